/* A zcio_transfer stepped from a poll() loop moves a file into a
 * non-blocking socket exactly once, asking to wait for writability when the
 * socket is full, with progress that always adds up. */
#include <poll.h>
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE (4 * 1024 * 1024 + 7)
#define START 1000
#define WANT (FILE_SIZE - START)

static uint8_t *data;

static zcio_transfer_progress progress_init(void)
{
    zcio_transfer_progress p;

    memset(&p, 0xa5, sizeof(p));
    p.size = sizeof(p);
    return p;
}

/* One step; checks that its progress is consistent with the last one. */
static int step(zcio_transfer *t, zcio_transfer_progress *last)
{
    zcio_transfer_progress p = progress_init();
    int rc = zcio_transfer_step(t, 0, &p);

    CHECK_U64(p.size, sizeof(p));
    CHECK_U64(p.read, last->read + p.step_read);
    CHECK_U64(p.written, last->written + p.step_written);
    CHECK_U64(p.buffered, p.read - p.written);
    CHECK(p.written <= WANT);
    *last = p;
    return rc;
}

int main(void)
{
    zcio_transfer_progress last = { .size = sizeof(last) };
    zcio_copy_opts opts;
    zcio_transfer *t = NULL;
    uint8_t *got = tu_xmalloc(FILE_SIZE);
    size_t received = 0;
    int64_t off = START;
    int in, rc, sv[2], sndbuf = 64 * 1024;

    data = tu_pattern_alloc(FILE_SIZE, 15);
    in = tu_temp_file(data, FILE_SIZE);
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         0, sv));
    CHECK_SYS(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
                         sizeof(sndbuf)));
    CHECK_RC(zcio_copy_opts_init(&opts), ZCIO_OK);
    opts.in_offset = &off;

    CHECK_RC(zcio_transfer_new(sv[0], in, WANT, &opts, &t), ZCIO_OK);

    /* Nobody reads yet, so the first step must stop on a full socket. */
    CHECK_RC(step(t, &last), ZCIO_WANT_WRITE);
    CHECK(last.written > 0 && last.written < WANT);
    while ((rc = step(t, &last)) != ZCIO_OK) {
        CHECK(rc == ZCIO_WANT_WRITE || rc == ZCIO_MORE);
        if (rc == ZCIO_WANT_WRITE)
            received += tu_drain(sv[1], got + received, WANT - received);
    }
    CHECK_U64(last.written, WANT);
    CHECK_RC(step(t, &last), ZCIO_OK);

    /* The caller's offset is read once; the descriptors stay open. */
    zcio_transfer_free(t);
    CHECK_I64(off, START);
    CHECK_I64(tu_pos(in), 0);
    CHECK_SYS(fcntl(sv[0], F_GETFD));
    close(sv[0]);
    while (received < WANT)
        received += tu_drain(sv[1], got + received, WANT - received);
    CHECK(recv(sv[1], got, 1, 0) == 0);
    CHECK(memcmp(got, data + START, WANT) == 0);

    close(sv[1]);
    close(in);
    free(got);
    free(data);
    return TU_PASS;
}
