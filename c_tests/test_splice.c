/* zcio_splice moves a file through a pipe into a socket and into a file,
 * honouring NULL and positional offsets on either side. */
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE (256 * 1024 + 777)
#define CHUNK (16 * 1024) /* fits a default 64 KiB pipe even unaligned */

static uint8_t *data;

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* file -> pipe -> socket in chunks; in_off NULL uses the file position. */
static void file_pipe_socket(int in, int64_t *in_off)
{
    int64_t start = in_off != NULL ? *in_off : tu_pos(in);
    size_t len = FILE_SIZE - (size_t)start;
    struct tu_reader reader;
    uint64_t moved;
    uint8_t *got;
    int p[2], sv[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    tu_reader_start(&reader, sv[1], len);

    for (size_t done = 0; done < len;) {
        size_t n = min_size(CHUNK, len - done);

        moved = TU_POISON;
        CHECK_RC(zcio_splice(in, in_off, p[1], NULL, n, 0, &moved), ZCIO_OK);
        CHECK_U64(moved, n);
        moved = TU_POISON;
        CHECK_RC(zcio_splice(p[0], NULL, sv[0], NULL, n, ZCIO_SPLICE_MORE,
                             &moved),
                 ZCIO_OK);
        CHECK_U64(moved, n);
        done += n;
    }
    close(sv[0]);

    got = tu_reader_join(&reader);
    CHECK_U64(reader.got, len);
    CHECK(memcmp(got, data + start, len) == 0);
    free(got);
    close(sv[1]);
    close(p[0]);
    close(p[1]);
}

/* pipe -> file with a positional out_offset leaves the output position. */
static void pipe_to_file_offset(void)
{
    int out = tu_temp_file(NULL, 0);
    int64_t out_off = 5000;
    uint64_t moved = TU_POISON;
    uint8_t got[3000];
    int p[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    tu_write_full(p[1], data, sizeof(got));

    CHECK_RC(zcio_splice(p[0], NULL, out, &out_off, sizeof(got), 0, &moved),
             ZCIO_OK);
    CHECK_U64(moved, sizeof(got));
    CHECK_I64(out_off, 5000 + sizeof(got));
    CHECK_I64(tu_pos(out), 0);
    CHECK_U64(tu_pread_full(out, got, sizeof(got), 5000), sizeof(got));
    CHECK(memcmp(got, data, sizeof(got)) == 0);
    close(out);
    close(p[0]);
    close(p[1]);
}

/* End of input: a file ends before len (ESHORT), ZCIO_TO_EOF stops at end of
 * file, and a pipe's end of input is its last writer closing. */
static void end_of_input(void)
{
    int in = tu_temp_file(data, 1000);
    uint64_t moved = TU_POISON;
    uint8_t got[2001];
    int p[2], sv[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));

    CHECK_RC(zcio_splice(in, NULL, p[1], NULL, 2000, 0, &moved), ZCIO_ESHORT);
    CHECK_U64(moved, 1000);
    tu_seek(in, 0);
    moved = TU_POISON;
    CHECK_RC(zcio_splice(in, NULL, p[1], NULL, ZCIO_TO_EOF, 0, &moved),
             ZCIO_OK);
    CHECK_U64(moved, 1000);
    close(p[1]);

    moved = TU_POISON;
    CHECK_RC(zcio_splice(p[0], NULL, sv[0], NULL, ZCIO_TO_EOF, 0, &moved),
             ZCIO_OK);
    CHECK_U64(moved, 2000);
    close(sv[0]);
    CHECK_U64(tu_read_full(sv[1], got, sizeof(got)), 2000);
    CHECK(memcmp(got, data, 1000) == 0);
    CHECK(memcmp(got + 1000, data, 1000) == 0);

    close(sv[1]);
    close(p[0]);
    close(in);
}

/* Non-blocking and flag checks on an empty pipe that still has a writer. */
static void flags(void)
{
    int out = tu_temp_file(NULL, 0);
    uint64_t moved = TU_POISON;
    int p[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    CHECK_RC(zcio_splice(p[0], NULL, out, NULL, 10, ZCIO_SPLICE_NONBLOCK,
                         &moved),
             ZCIO_EAGAIN);
    CHECK_U64(moved, 0);

    moved = TU_POISON;
    CHECK_RC(zcio_splice(p[0], NULL, out, NULL, 10, 0x80, &moved),
             ZCIO_EFLAGS);
    CHECK_U64(moved, 0);
    close(out);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    int64_t off = 333;
    int in;

    data = tu_pattern_alloc(FILE_SIZE, 4);
    in = tu_temp_file(data, FILE_SIZE);

    tu_seek(in, 10);
    file_pipe_socket(in, NULL);
    CHECK_I64(tu_pos(in), FILE_SIZE);

    tu_seek(in, 20);
    file_pipe_socket(in, &off);
    CHECK_I64(off, FILE_SIZE);
    CHECK_I64(tu_pos(in), 20);

    pipe_to_file_offset();
    end_of_input();
    flags();

    close(in);
    free(data);
    return TU_PASS;
}
