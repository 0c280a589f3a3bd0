/* zcio_copy, called with option and result structures laid out by a C
 * compiler, copies every byte with the mechanism it reports, honours the
 * offsets, mask and budget in the options, and rejects bad structures. */
#include <sys/socket.h>

#include "test_util.h"

#define FILE_SIZE (1024 * 1024 + 99)

static uint8_t *data;

static zcio_copy_opts opts_init(void)
{
    zcio_copy_opts opts;

    memset(&opts, 0xa5, sizeof(opts));
    CHECK_RC(zcio_copy_opts_init(&opts), ZCIO_OK);
    CHECK_U64(opts.size, sizeof(opts));
    return opts;
}

static zcio_copy_result result_init(void)
{
    zcio_copy_result res;

    memset(&res, 0xa5, sizeof(res));
    res.size = sizeof(res);
    return res;
}

static void check_file(int fd, const uint8_t *want, size_t len)
{
    uint8_t *got = tu_xmalloc(len + 1);

    CHECK_U64(tu_pread_full(fd, got, len + 1, 0), len);
    CHECK(memcmp(got, want, len) == 0);
    free(got);
}

/* Defaults, file to file: the descriptors' own positions advance. */
static void file_to_file(int in)
{
    zcio_copy_result res = result_init();
    int out = tu_temp_file(NULL, 0);

    tu_seek(in, 0);
    CHECK_RC(zcio_copy(out, in, ZCIO_TO_EOF, NULL, &res), ZCIO_OK);
    CHECK_U64(res.moved, FILE_SIZE);
    CHECK_U64(res.read, FILE_SIZE);
    CHECK(res.mechanism == ZCIO_MECH_COPY_FILE_RANGE ||
          res.mechanism == ZCIO_MECH_SENDFILE ||
          res.mechanism == ZCIO_MECH_READ_WRITE);
    CHECK_I64(tu_pos(in), FILE_SIZE);
    CHECK_I64(tu_pos(out), FILE_SIZE);
    check_file(out, data, FILE_SIZE);
    close(out);
}

/* Offsets in the options; read/write only; a count past the end. */
static void offsets_and_mask(int in)
{
    zcio_copy_opts opts = opts_init();
    zcio_copy_result res = result_init();
    int64_t in_off = 1000, out_off = 0;
    int out = tu_temp_file(NULL, 0);

    opts.in_offset = &in_off;
    opts.out_offset = &out_off;
    opts.mechanisms = ZCIO_ALLOW_READ_WRITE;
    tu_seek(in, 5);
    CHECK_RC(zcio_copy(out, in, FILE_SIZE, &opts, &res), ZCIO_ESHORT);
    CHECK_U64(res.moved, FILE_SIZE - 1000);
    CHECK(res.mechanism == ZCIO_MECH_READ_WRITE);
    CHECK_I64(in_off, FILE_SIZE);
    CHECK_I64(out_off, FILE_SIZE - 1000);
    CHECK_I64(tu_pos(in), 5);
    CHECK_I64(tu_pos(out), 0);
    check_file(out, data + 1000, FILE_SIZE - 1000);
    close(out);
}

/* A budget stops each call with ZCIO_MORE; calls resume where it stopped. */
static void budget(int in)
{
    zcio_copy_opts opts = opts_init();
    zcio_copy_result res;
    int64_t in_off = 0, out_off = 0;
    uint64_t total = 0;
    int out = tu_temp_file(NULL, 0);
    int rc;

    opts.in_offset = &in_off;
    opts.out_offset = &out_off;
    opts.budget = 300000;
    do {
        res = result_init();
        rc = zcio_copy(out, in, FILE_SIZE - total, &opts, &res);
        CHECK(res.moved > 0 && res.moved <= 300000);
        total += res.moved;
        CHECK_I64(in_off, total);
        CHECK_RC(rc, total < FILE_SIZE ? ZCIO_MORE : ZCIO_OK);
    } while (rc == ZCIO_MORE);
    check_file(out, data, FILE_SIZE);
    close(out);
}

/* File to socket sends with sendfile; a mask without it has no way. */
static void file_to_socket(int in)
{
    zcio_copy_opts opts = opts_init();
    zcio_copy_result res = result_init();
    struct tu_reader reader;
    int64_t off = 0;
    uint8_t *got;
    int sv[2];

    CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
    opts.in_offset = &off;
    opts.mechanisms = ZCIO_ALLOW_COPY_FILE_RANGE;
    CHECK_RC(zcio_copy(sv[0], in, FILE_SIZE, &opts, &res), ZCIO_ENOMECH);
    CHECK_U64(res.moved, 0);
    CHECK(res.mechanism == ZCIO_MECH_NONE);

    tu_reader_start(&reader, sv[1], FILE_SIZE);
    opts.mechanisms = 0;
    res = result_init();
    CHECK_RC(zcio_copy(sv[0], in, FILE_SIZE, &opts, &res), ZCIO_OK);
    CHECK_U64(res.moved, FILE_SIZE);
    CHECK(res.mechanism == ZCIO_MECH_SENDFILE);
    got = tu_reader_join(&reader);
    CHECK(memcmp(got, data, FILE_SIZE) == 0);
    free(got);
    close(sv[0]);
    close(sv[1]);
}

/* Structures of a size the library does not know, and unknown bits. */
static void bad_structures(int in)
{
    zcio_copy_opts opts = opts_init();
    zcio_copy_result res = result_init();
    int out = tu_temp_file(NULL, 0);

    opts.size = 1;
    CHECK_RC(zcio_copy(out, in, 10, &opts, &res), ZCIO_ESTRUCT);
    opts = opts_init();
    opts.mechanisms = 1u << 20;
    CHECK_RC(zcio_copy(out, in, 10, &opts, &res), ZCIO_EFLAGS);
    CHECK_U64(res.moved, 0);
    res.size = 1;
    CHECK_RC(zcio_copy(out, in, 10, NULL, &res), ZCIO_ESTRUCT);
    CHECK_I64(tu_pos(out), 0);
    close(out);
}

int main(void)
{
    int in;

    data = tu_pattern_alloc(FILE_SIZE, 14);
    in = tu_temp_file(data, FILE_SIZE);

    file_to_file(in);
    offsets_and_mask(in);
    budget(in);
    file_to_socket(in);
    bad_structures(in);

    close(in);
    free(data);
    return TU_PASS;
}
