/* zcio_copy_file_range copies between files with positional and NULL
 * offsets on each side, and reports ZCIO_ESHORT when the input ends. */
#include "test_util.h"

#define FILE_SIZE (300 * 1024 + 11)

static uint8_t *data;

/* Both offsets given: both descriptors' positions stay where they were. */
static void both_offsets(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t in_off = 1000, out_off = 500;
    uint64_t copied = TU_POISON;
    uint8_t *got = tu_xmalloc(100500 + 1);

    tu_seek(in, 17);
    CHECK_RC(zcio_copy_file_range(in, &in_off, out, &out_off, 100000,
                                  &copied),
             ZCIO_OK);
    CHECK_U64(copied, 100000);
    CHECK_I64(in_off, 101000);
    CHECK_I64(out_off, 100500);
    CHECK_I64(tu_pos(in), 17);
    CHECK_I64(tu_pos(out), 0);

    /* The 500 bytes before out_off are a hole that reads as zeros. */
    CHECK_U64(tu_pread_full(out, got, 100500 + 1, 0), 100500);
    for (int i = 0; i < 500; i++)
        CHECK(got[i] == 0);
    CHECK(memcmp(got + 500, data + 1000, 100000) == 0);
    free(got);
    close(out);
}

/* NULL offsets: both descriptors' positions advance by the bytes copied. */
static void null_offsets(int in)
{
    int out = tu_temp_file(NULL, 0);
    uint64_t copied = TU_POISON;
    uint8_t *got = tu_xmalloc(FILE_SIZE);

    tu_seek(in, 2000);
    CHECK_RC(zcio_copy_file_range(in, NULL, out, NULL, 50000, &copied),
             ZCIO_OK);
    CHECK_U64(copied, 50000);
    CHECK_I64(tu_pos(in), 52000);
    CHECK_I64(tu_pos(out), 50000);

    /* The rest of the file with ZCIO_TO_EOF continues where it stopped. */
    copied = TU_POISON;
    CHECK_RC(zcio_copy_file_range(in, NULL, out, NULL, ZCIO_TO_EOF, &copied),
             ZCIO_OK);
    CHECK_U64(copied, FILE_SIZE - 52000);
    CHECK_I64(tu_pos(in), FILE_SIZE);
    CHECK_I64(tu_pos(out), FILE_SIZE - 2000);

    CHECK_U64(tu_pread_full(out, got, FILE_SIZE, 0), FILE_SIZE - 2000);
    CHECK(memcmp(got, data + 2000, FILE_SIZE - 2000) == 0);
    free(got);
    close(out);
}

/* Mixed: positional input, NULL output. */
static void mixed_offsets(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t in_off = 4097;
    uint64_t copied = TU_POISON;
    uint8_t got[8192];

    tu_seek(in, 0);
    CHECK_RC(zcio_copy_file_range(in, &in_off, out, NULL, sizeof(got),
                                  &copied),
             ZCIO_OK);
    CHECK_U64(copied, sizeof(got));
    CHECK_I64(in_off, 4097 + sizeof(got));
    CHECK_I64(tu_pos(in), 0);
    CHECK_I64(tu_pos(out), sizeof(got));
    CHECK_U64(tu_pread_full(out, got, sizeof(got), 0), sizeof(got));
    CHECK(memcmp(got, data + 4097, sizeof(got)) == 0);
    close(out);
}

/* A length past the end of the input. */
static void past_eof(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t in_off = FILE_SIZE - 100, out_off = 0;
    uint64_t copied = TU_POISON;
    uint8_t got[101];

    CHECK_RC(zcio_copy_file_range(in, &in_off, out, &out_off, 1000, &copied),
             ZCIO_ESHORT);
    CHECK_U64(copied, 100);
    CHECK_I64(in_off, FILE_SIZE);
    CHECK_I64(out_off, 100);
    CHECK_U64(tu_pread_full(out, got, sizeof(got), 0), 100);
    CHECK(memcmp(got, data + FILE_SIZE - 100, 100) == 0);

    /* At end of input, ZCIO_TO_EOF copies nothing and succeeds. */
    copied = TU_POISON;
    CHECK_RC(zcio_copy_file_range(in, &in_off, out, &out_off, ZCIO_TO_EOF,
                                  &copied),
             ZCIO_OK);
    CHECK_U64(copied, 0);
    close(out);
}

/* A negative offset on either side is rejected before anything moves. */
static void negative_offset(int in)
{
    int out = tu_temp_file(NULL, 0);
    int64_t good = 0, bad = -4096;
    uint64_t copied = TU_POISON;

    CHECK_RC(zcio_copy_file_range(in, &bad, out, &good, 10, &copied),
             ZCIO_EINVAL);
    CHECK_U64(copied, 0);
    copied = TU_POISON;
    CHECK_RC(zcio_copy_file_range(in, &good, out, &bad, 10, &copied),
             ZCIO_EINVAL);
    CHECK_U64(copied, 0);
    CHECK_I64(good, 0);
    close(out);
}

int main(void)
{
    int in;

    data = tu_pattern_alloc(FILE_SIZE, 6);
    in = tu_temp_file(data, FILE_SIZE);

    both_offsets(in);
    null_offsets(in);
    mixed_offsets(in);
    past_eof(in);
    negative_offset(in);

    close(in);
    free(data);
    return TU_PASS;
}
