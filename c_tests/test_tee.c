/* zcio_tee duplicates a pipe's bytes into another pipe without consuming
 * them, in one call, and rejects descriptors that are not pipes. */
#include "test_util.h"

#define N 1000

static uint8_t data[N];

/* Both pipes hold the bytes afterwards: the input was not consumed. */
static void duplicates(void)
{
    uint64_t copied = TU_POISON;
    uint8_t got[N + 1];
    int a[2], b[2];

    CHECK_RC(zcio_pipe_new(0, 0, a), ZCIO_OK);
    CHECK_RC(zcio_pipe_new(0, 0, b), ZCIO_OK);
    tu_write_full(a[1], data, N);

    CHECK_RC(zcio_tee(a[0], b[1], N, 0, &copied), ZCIO_OK);
    CHECK_U64(copied, N);

    /* One tee call takes what is there, even when len asks for more. */
    copied = TU_POISON;
    CHECK_RC(zcio_tee(a[0], b[1], 1 << 20, 0, &copied), ZCIO_OK);
    CHECK_U64(copied, N);

    close(a[1]);
    close(b[1]);
    CHECK_U64(tu_read_full(a[0], got, sizeof(got)), N);
    CHECK(memcmp(got, data, N) == 0);
    CHECK_U64(tu_read_full(b[0], got, N), N);
    CHECK(memcmp(got, data, N) == 0);
    CHECK_U64(tu_read_full(b[0], got, sizeof(got)), N);
    CHECK(memcmp(got, data, N) == 0);
    close(a[0]);
    close(b[0]);
}

/* tee(2) works only between pipes: a regular file on either side is
 * -EINVAL. */
static void not_a_pipe(void)
{
    int file = tu_temp_file(data, N);
    uint64_t copied = TU_POISON;
    int p[2];

    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    tu_write_full(p[1], data, N);

    CHECK(ZCIO_EINVAL == -EINVAL);
    CHECK_RC(zcio_tee(file, p[1], N, 0, &copied), ZCIO_EINVAL);
    CHECK_U64(copied, 0);
    copied = TU_POISON;
    CHECK_RC(zcio_tee(p[0], file, N, 0, &copied), ZCIO_EINVAL);
    CHECK_U64(copied, 0);
    close(file);
    close(p[0]);
    close(p[1]);
}

/* An empty pipe: EAGAIN while a writer exists (non-blocking), and OK with 0
 * bytes once no writer is left. */
static void empty_input(void)
{
    uint64_t copied = TU_POISON;
    int a[2], b[2];

    CHECK_RC(zcio_pipe_new(0, ZCIO_PIPE_NONBLOCK, a), ZCIO_OK);
    CHECK_RC(zcio_pipe_new(0, ZCIO_PIPE_NONBLOCK, b), ZCIO_OK);

    CHECK_RC(zcio_tee(a[0], b[1], N, ZCIO_SPLICE_NONBLOCK, &copied),
             ZCIO_EAGAIN);
    CHECK_U64(copied, 0);

    close(a[1]);
    copied = TU_POISON;
    CHECK_RC(zcio_tee(a[0], b[1], N, 0, &copied), ZCIO_OK);
    CHECK_U64(copied, 0);
    close(a[0]);
    close(b[0]);
    close(b[1]);
}

/* Unknown flag bits are refused before any byte is duplicated. */
static void bad_flags(void)
{
    uint64_t copied = TU_POISON;
    uint8_t got[N + 1];
    int a[2], b[2];

    CHECK_RC(zcio_pipe_new(0, 0, a), ZCIO_OK);
    CHECK_RC(zcio_pipe_new(0, ZCIO_PIPE_NONBLOCK, b), ZCIO_OK);
    tu_write_full(a[1], data, N);

    CHECK_RC(zcio_tee(a[0], b[1], N, 0x100, &copied), ZCIO_EFLAGS);
    CHECK_U64(copied, 0);
    CHECK(read(b[0], got, sizeof(got)) == -1 && errno == EAGAIN);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

int main(void)
{
    tu_pattern(data, sizeof(data), 5);

    duplicates();
    not_a_pipe();
    empty_input();
    bad_flags();
    return TU_PASS;
}
