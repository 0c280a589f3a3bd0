/* On a full non-blocking socket zcio_sendfile returns ZCIO_EAGAIN with the
 * partial count and a matching offset, and later calls finish the rest. */
#include <poll.h>
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE (8 * 1024 * 1024)

static uint8_t *data;

/* Returns the input position the transfer uses: *off when positional,
 * otherwise the descriptor's own. */
static int64_t input_pos(int in, const int64_t *off)
{
    return off != NULL ? *off : tu_pos(in);
}

/* A non-blocking socket pair whose sending side buffers little. */
static void small_socketpair(int sv[2])
{
    int sndbuf = 64 * 1024;

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         0, sv));
    CHECK_SYS(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
                         sizeof(sndbuf)));
}

/* One call for the rest of the file, of which total bytes went out from
 * start already; checks the count and position, returns the new total. */
static size_t send_rest(int sock, int in, int64_t *off, int64_t start,
                        size_t total)
{
    uint64_t sent = TU_POISON;
    int rc = zcio_sendfile(sock, in, off, FILE_SIZE - total, &sent);

    CHECK(sent <= FILE_SIZE - total);
    total += (size_t)sent;
    CHECK_I64(input_pos(in, off), start + (int64_t)total);
    CHECK_RC(rc, total == FILE_SIZE ? ZCIO_OK : ZCIO_EAGAIN);
    return total;
}

/* Sends the whole file with off (NULL or positional), draining the peer
 * between calls. */
static void send_all(int in, int64_t *off)
{
    uint8_t *got = tu_xmalloc(FILE_SIZE);
    int64_t start = input_pos(in, off);
    size_t total, received = 0;
    int sv[2];

    small_socketpair(sv);

    /* Nobody reads yet: the socket fills and the call stops part way. */
    total = send_rest(sv[0], in, off, start, 0);
    CHECK(total > 0 && total < FILE_SIZE);

    while (received < FILE_SIZE) {
        received += tu_drain(sv[1], got + received, FILE_SIZE - received);
        CHECK(received <= total);
        if (total < FILE_SIZE)
            total = send_rest(sv[0], in, off, start, total);
    }

    CHECK(memcmp(got, data, FILE_SIZE) == 0);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    int64_t off = 0;
    int in;

    data = tu_pattern_alloc(FILE_SIZE, 3);
    in = tu_temp_file(data, FILE_SIZE);

    send_all(in, &off);
    CHECK_I64(off, FILE_SIZE);
    CHECK_I64(tu_pos(in), 0);

    send_all(in, NULL);
    CHECK_I64(tu_pos(in), FILE_SIZE);

    close(in);
    free(data);
    return TU_PASS;
}
