/* zcio_sendfile stops at end of input: a count past it gives ZCIO_ESHORT with
 * the bytes actually sent, ZCIO_TO_EOF gives ZCIO_OK, and neither hangs. */
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE 10000

static uint8_t data[FILE_SIZE];

/* The file output is checked byte for byte after each short transfer. */
static void check_file(int out, const uint8_t *want, size_t len)
{
    uint8_t got[FILE_SIZE + 1];

    CHECK_U64(tu_pread_full(out, got, sizeof(got), 0), len);
    CHECK(memcmp(got, want, len) == 0);
}

static void short_null_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    uint64_t sent = TU_POISON;

    tu_seek(in, 0);
    CHECK_RC(zcio_sendfile(out, in, NULL, 2 * FILE_SIZE, &sent), ZCIO_ESHORT);
    CHECK_U64(sent, FILE_SIZE);
    CHECK_I64(tu_pos(in), FILE_SIZE);
    check_file(out, data, FILE_SIZE);

    /* Already at end of file: nothing to send. */
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, NULL, 1, &sent), ZCIO_ESHORT);
    CHECK_U64(sent, 0);
    close(out);
}

static void short_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t off = 4000;
    uint64_t sent = TU_POISON;

    tu_seek(in, 0);
    CHECK_RC(zcio_sendfile(out, in, &off, 1000000, &sent), ZCIO_ESHORT);
    CHECK_U64(sent, FILE_SIZE - 4000);
    CHECK_I64(off, FILE_SIZE);
    CHECK_I64(tu_pos(in), 0);
    check_file(out, data + 4000, FILE_SIZE - 4000);

    /* An offset at end of file: ESHORT for a count, OK for ZCIO_TO_EOF. */
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, 1, &sent), ZCIO_ESHORT);
    CHECK_U64(sent, 0);
    CHECK_I64(off, FILE_SIZE);
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, ZCIO_TO_EOF, &sent), ZCIO_OK);
    CHECK_U64(sent, 0);
    CHECK_I64(off, FILE_SIZE);
    close(out);
}

static void to_eof(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t off = 1;
    uint64_t sent = TU_POISON;

    tu_seek(in, 0);
    CHECK_RC(zcio_sendfile(out, in, NULL, ZCIO_TO_EOF, &sent), ZCIO_OK);
    CHECK_U64(sent, FILE_SIZE);
    CHECK_I64(tu_pos(in), FILE_SIZE);
    check_file(out, data, FILE_SIZE);

    tu_seek(out, 0);
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, ZCIO_TO_EOF, &sent), ZCIO_OK);
    CHECK_U64(sent, FILE_SIZE - 1);
    CHECK_I64(off, FILE_SIZE);
    close(out);
}

/* A socket has room for the whole file, so the short transfer must come
 * from seeing end of input, not from the receiver. */
static void short_to_socket(int in)
{
    uint8_t got[FILE_SIZE];
    uint64_t sent = TU_POISON;
    int sv[2];

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    tu_seek(in, 0);
    CHECK_RC(zcio_sendfile(sv[0], in, NULL, FILE_SIZE + 1, &sent),
             ZCIO_ESHORT);
    CHECK_U64(sent, FILE_SIZE);

    close(sv[0]);
    CHECK_U64(tu_read_full(sv[1], got, sizeof(got)), FILE_SIZE);
    CHECK(memcmp(got, data, FILE_SIZE) == 0);
    close(sv[1]);
}

/* A negative offset is rejected before anything moves. */
static void negative_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t off = -1;
    uint64_t sent = TU_POISON;

    CHECK_RC(zcio_sendfile(out, in, &off, 10, &sent), ZCIO_EINVAL);
    CHECK_U64(sent, 0);
    CHECK_I64(off, -1);
    close(out);
}

int main(void)
{
    int in;

    tu_pattern(data, sizeof(data), 2);
    in = tu_temp_file(data, sizeof(data));

    short_null_offset(in);
    short_offset(in);
    to_eof(in);
    short_to_socket(in);
    negative_offset(in);

    close(in);
    return TU_PASS;
}
