/* Writing to a socket or pipe whose reader is gone returns ZCIO_EPIPE and
 * never raises SIGPIPE, leaving the caller's signal state as it was. */
#include <signal.h>
#include <sys/socket.h>

#include "test_util.h"

#define N 4096

static volatile sig_atomic_t sigpipes;
static sigset_t mask;
static uint8_t data[N];

static void on_sigpipe(int sig)
{
    (void)sig;
    sigpipes++;
}

/* The call must have failed with EPIPE, and no SIGPIPE reached us, and the
 * signal mask and handler are untouched. */
static void check_epipe(const char *what, int rc)
{
    struct sigaction sa;
    sigset_t now, pending;

    if (rc != ZCIO_EPIPE || errno != EPIPE)
        tu_fail(__FILE__, __LINE__, "%s: rc %d (%s), errno %d", what, rc,
                zcio_err_name(rc), errno);
    if (sigpipes != 0)
        tu_fail(__FILE__, __LINE__, "%s raised SIGPIPE", what);

    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &now) == 0);
    CHECK(sigismember(&now, SIGPIPE) == sigismember(&mask, SIGPIPE));
    CHECK_SYS(sigpending(&pending));
    CHECK(!sigismember(&pending, SIGPIPE));
    CHECK_SYS(sigaction(SIGPIPE, NULL, &sa));
    CHECK(sa.sa_handler == on_sigpipe);
}

/* Returns a connected socket whose peer is already closed. */
static int orphan_socket(void)
{
    int sv[2];

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    close(sv[1]);
    return sv[0];
}

static void to_socket(int file)
{
    int rc, s = orphan_socket(), p[2];
    uint64_t n = TU_POISON;

    errno = 0;
    rc = zcio_sendfile(s, file, NULL, N, &n);
    check_epipe("sendfile to socket", rc);
    CHECK_U64(n, 0);

    /* The pipe holds bytes so that splice has something to write. */
    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    tu_write_full(p[1], data, N);
    errno = 0;
    n = TU_POISON;
    rc = zcio_splice(p[0], NULL, s, NULL, N, 0, &n);
    check_epipe("splice to socket", rc);
    CHECK_U64(n, 0);
    close(p[0]);
    close(p[1]);
    close(s);
}

static void to_pipe(int file)
{
    uint64_t n = TU_POISON;
    int rc, a[2], p[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    close(p[0]);

    errno = 0;
    rc = zcio_sendfile(p[1], file, NULL, N, &n);
    check_epipe("sendfile to pipe", rc);
    CHECK_U64(n, 0);
    errno = 0;
    n = TU_POISON;
    rc = zcio_splice(file, NULL, p[1], NULL, N, 0, &n);
    check_epipe("splice to pipe", rc);
    CHECK_U64(n, 0);
    CHECK_I64(tu_pos(file), 0);

    CHECK_RC(zcio_pipe_new(0, 0, a), ZCIO_OK);
    tu_write_full(a[1], data, N);
    errno = 0;
    n = TU_POISON;
    rc = zcio_tee(a[0], p[1], N, 0, &n);
    check_epipe("tee to pipe", rc);
    CHECK_U64(n, 0);
    close(a[0]);
    close(a[1]);
    close(p[1]);
}

int main(void)
{
    struct sigaction sa = { .sa_handler = on_sigpipe };
    int file;

    tu_pattern(data, sizeof(data), 13);
    file = tu_temp_file(data, N);
    CHECK_SYS(sigemptyset(&sa.sa_mask));
    CHECK_SYS(sigaction(SIGPIPE, &sa, NULL));
    CHECK(pthread_sigmask(SIG_BLOCK, NULL, &mask) == 0);

    to_socket(file);
    to_pipe(file);

    close(file);
    return TU_PASS;
}
