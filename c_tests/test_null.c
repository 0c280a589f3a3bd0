/* Every call given a NULL required pointer returns ZCIO_ENULL before doing
 * anything: no byte moves, no position changes, no descriptor leaks. */
#include "test_util.h"

#define N 100

static void primitives(int file, const int p[2], int64_t *off)
{
    CHECK_RC(zcio_sendfile(p[1], file, NULL, N, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_sendfile(p[1], file, off, N, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_splice(file, NULL, p[1], NULL, N, 0, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_splice(p[0], NULL, file, off, N, 0, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_tee(p[0], p[1], N, 0, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_copy_file_range(file, off, file, NULL, N, NULL),
             ZCIO_ENULL);
    CHECK_RC(zcio_pipe_new(0, 0, NULL), ZCIO_ENULL);
}

static void mappings(int file)
{
    CHECK_RC(zcio_map_open(file, 0, 0, ZCIO_MAP_READ, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_map_sync(NULL, 0, 0, 0), ZCIO_ENULL);
    CHECK_RC(zcio_map_advise(NULL, 0, 0, ZCIO_ADVICE_NORMAL), ZCIO_ENULL);

    /* The getters and close accept NULL. */
    CHECK(zcio_map_data(NULL) == NULL);
    CHECK_U64(zcio_map_len(NULL), 0);
    zcio_map_close(NULL);
}

/* zcio_copy, transfers, the pool and the statistics. */
static void copies(int file, const int p[2])
{
    CHECK_RC(zcio_copy_opts_init(NULL), ZCIO_ENULL);
    CHECK_RC(zcio_copy(p[1], file, N, NULL, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_transfer_new(p[1], file, N, NULL, NULL), ZCIO_ENULL);
    CHECK_RC(zcio_transfer_step(NULL, 0, NULL), ZCIO_ENULL);
    zcio_transfer_free(NULL);
    CHECK_RC(zcio_pool_configure(NULL), ZCIO_ENULL);
    CHECK_RC(zcio_pool_config_get(NULL), ZCIO_ENULL);
    CHECK_RC(zcio_pool_stats(NULL), ZCIO_ENULL);
    CHECK_RC(zcio_stats_get(NULL), ZCIO_ENULL);
}

int main(void)
{
    uint8_t data[N], got[N + 1];
    int64_t off = 0;
    int before, file, p[2];

    tu_pattern(data, sizeof(data), 12);
    file = tu_temp_file(data, sizeof(data));
    CHECK_RC(zcio_pipe_new(0, ZCIO_PIPE_NONBLOCK, p), ZCIO_OK);
    tu_write_full(p[1], data, N);
    before = tu_fd_count();

    primitives(file, p, &off);
    mappings(file);
    copies(file, p);

    /* Nothing happened: positions, the file and the pipe are as before. */
    CHECK(tu_fd_count() == before);
    CHECK_I64(off, 0);
    CHECK_I64(tu_pos(file), 0);
    CHECK_U64(tu_pread_full(file, got, sizeof(got), 0), N);
    CHECK(memcmp(got, data, N) == 0);
    CHECK(read(p[0], got, sizeof(got)) == N);
    CHECK(memcmp(got, data, N) == 0);

    close(file);
    close(p[0]);
    close(p[1]);
    return TU_PASS;
}
