/* zcio_pipe_new makes close-on-exec pipes, non-blocking on request, and
 * treats the size hint as best effort. */
#include "test_util.h"

#define MIB (1024 * 1024)

/* Whether this process may have a 1 MiB pipe: asks the kernel directly
 * with a plain pipe, since limits depend on sysctls, privileges and how many
 * pipe pages the user already holds. */
static int big_pipes_allowed(void)
{
    int fds[2], ok;

    CHECK_SYS(pipe2(fds, O_CLOEXEC));
    ok = fcntl(fds[0], F_SETPIPE_SZ, MIB) >= MIB;
    close(fds[0]);
    close(fds[1]);
    return ok;
}

static void check_flags(const int fds[2], int nonblock)
{
    for (int i = 0; i < 2; i++) {
        int fd_flags = (int)CHECK_SYS(fcntl(fds[i], F_GETFD));
        int fl_flags = (int)CHECK_SYS(fcntl(fds[i], F_GETFL));

        CHECK((fd_flags & FD_CLOEXEC) != 0);
        CHECK(((fl_flags & O_NONBLOCK) != 0) == nonblock);
    }
}

/* fds[0] is the read end and fds[1] the write end. */
static void check_direction(const int fds[2])
{
    char buf[6] = { 0 };

    tu_write_full(fds[1], "hello", 5);
    CHECK(read(fds[0], buf, sizeof(buf)) == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
}

static void defaults(void)
{
    int fds[2] = { -1, -1 };

    CHECK_RC(zcio_pipe_new(0, 0, fds), ZCIO_OK);
    CHECK(fds[0] >= 0 && fds[1] >= 0 && fds[0] != fds[1]);
    check_flags(fds, 0);
    check_direction(fds);
    CHECK(CHECK_SYS(fcntl(fds[0], F_GETPIPE_SZ)) >= 4096);
    close(fds[0]);
    close(fds[1]);
}

static void nonblocking(void)
{
    char c;
    int fds[2] = { -1, -1 };

    CHECK_RC(zcio_pipe_new(0, ZCIO_PIPE_NONBLOCK, fds), ZCIO_OK);
    check_flags(fds, 1);
    CHECK(read(fds[0], &c, 1) == -1 && errno == EAGAIN);
    check_direction(fds);
    close(fds[0]);
    close(fds[1]);
}

/* A 1 MiB hint is honoured when the system allows pipes that big. */
static void size_hint(void)
{
    int fds[2] = { -1, -1 };

    CHECK_RC(zcio_pipe_new(MIB, 0, fds), ZCIO_OK);
    check_flags(fds, 0);
    if (big_pipes_allowed())
        CHECK(CHECK_SYS(fcntl(fds[0], F_GETPIPE_SZ)) >= MIB);
    else
        fprintf(stderr, "1 MiB pipes not allowed here, size not checked\n");
    check_direction(fds);
    close(fds[0]);
    close(fds[1]);
}

/* A hint the kernel must refuse still yields a working pipe. */
static void absurd_hint(void)
{
    int fds[2] = { -1, -1 };

    CHECK_RC(zcio_pipe_new(0xFFFFFFFFu, ZCIO_PIPE_NONBLOCK, fds), ZCIO_OK);
    check_flags(fds, 1);
    check_direction(fds);
    close(fds[0]);
    close(fds[1]);
}

/* Unknown flags fail without creating descriptors, and set both to -1. */
static void bad_flags(void)
{
    int before = tu_fd_count();
    int fds[2] = { 3, 4 };

    CHECK_RC(zcio_pipe_new(0, 0x10, fds), ZCIO_EFLAGS);
    CHECK(fds[0] == -1 && fds[1] == -1);
    CHECK(tu_fd_count() == before);
}

int main(void)
{
    int before = tu_fd_count();

    defaults();
    nonblocking();
    size_hint();
    absurd_hint();
    bad_flags();

    CHECK(tu_fd_count() == before);
    return TU_PASS;
}
