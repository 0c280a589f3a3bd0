/* zcio_sendfile copies a file's bytes to a socket and to a file, advancing
 * the descriptor's position with a NULL offset and only *offset otherwise. */
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE (1024 * 1024 + 4321)

static uint8_t *data;

/* NULL offset: starts at the file position and advances it by the count. */
static void to_socket_null_offset(int in)
{
    const uint64_t start = 100;
    const uint64_t count = FILE_SIZE - start - 50;
    struct tu_reader reader;
    uint64_t sent = TU_POISON;
    uint8_t *got;
    int sv[2];

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    tu_reader_start(&reader, sv[1], count);
    tu_seek(in, (int64_t)start);

    CHECK_RC(zcio_sendfile(sv[0], in, NULL, count, &sent), ZCIO_OK);
    CHECK_U64(sent, count);
    CHECK_I64(tu_pos(in), start + count);

    got = tu_reader_join(&reader);
    CHECK_U64(reader.got, count);
    CHECK(memcmp(got, data + start, count) == 0);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

/* Non-NULL offset: reads from *offset, leaves the file position alone. */
static void to_socket_offset(int in)
{
    const uint64_t count = 300000;
    struct tu_reader reader;
    int64_t off = 4096 + 3;
    uint64_t sent = TU_POISON;
    uint8_t *got;
    int sv[2];

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    tu_reader_start(&reader, sv[1], count);
    tu_seek(in, 7);

    CHECK_RC(zcio_sendfile(sv[0], in, &off, count, &sent), ZCIO_OK);
    CHECK_U64(sent, count);
    CHECK_I64(off, 4096 + 3 + count);
    CHECK_I64(tu_pos(in), 7);

    got = tu_reader_join(&reader);
    CHECK_U64(reader.got, count);
    CHECK(memcmp(got, data + 4096 + 3, count) == 0);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

/* File to file with a NULL offset and ZCIO_TO_EOF: a whole-file copy that
 * moves both positions to the end. */
static void to_file_null_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    uint64_t sent = TU_POISON;
    uint8_t *got = tu_xmalloc(FILE_SIZE);

    tu_seek(in, 0);
    CHECK_RC(zcio_sendfile(out, in, NULL, ZCIO_TO_EOF, &sent), ZCIO_OK);
    CHECK_U64(sent, FILE_SIZE);
    CHECK_I64(tu_pos(in), FILE_SIZE);
    CHECK_I64(tu_pos(out), FILE_SIZE);

    CHECK_U64(tu_pread_full(out, got, FILE_SIZE, 0), FILE_SIZE);
    CHECK(memcmp(got, data, FILE_SIZE) == 0);
    free(got);
    close(out);
}

/* File to file with an offset: the output is written at its own position,
 * the input position stays where it was. */
static void to_file_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t off = 1000;
    uint64_t sent = TU_POISON;
    uint8_t got[5000 + 1];

    tu_seek(in, 12345);
    CHECK_RC(zcio_sendfile(out, in, &off, 5000, &sent), ZCIO_OK);
    CHECK_U64(sent, 5000);
    CHECK_I64(off, 6000);
    CHECK_I64(tu_pos(in), 12345);
    CHECK_I64(tu_pos(out), 5000);

    CHECK_U64(tu_pread_full(out, got, sizeof(got), 0), 5000);
    CHECK(memcmp(got, data + 1000, 5000) == 0);
    close(out);
}

/* A zero count moves nothing and succeeds. */
static void zero_count(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t off = 10;
    uint64_t sent = TU_POISON;

    tu_seek(in, 3);
    CHECK_RC(zcio_sendfile(out, in, NULL, 0, &sent), ZCIO_OK);
    CHECK_U64(sent, 0);
    CHECK_I64(tu_pos(in), 3);

    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, 0, &sent), ZCIO_OK);
    CHECK_U64(sent, 0);
    CHECK_I64(off, 10);
    CHECK_I64(tu_pos(out), 0);
    close(out);
}

int main(void)
{
    int in;

    data = tu_pattern_alloc(FILE_SIZE, 1);
    in = tu_temp_file(data, FILE_SIZE);

    to_socket_null_offset(in);
    to_socket_offset(in);
    to_file_null_offset(in);
    to_file_offset(in);
    zero_count(in);

    close(in);
    free(data);
    return TU_PASS;
}
