/* Every call that takes a descriptor returns -EBADF for a closed one, sets
 * errno to EBADF, and still writes its out-parameter. */
#include "test_util.h"

static int bad;

/* Resets errno and the count before a call that must fail with EBADF. */
static void reset(uint64_t *count)
{
    *count = TU_POISON;
    errno = 0;
}

static void check_ebadf(const char *what, int rc, uint64_t count)
{
    if (rc != -EBADF || count != 0 || errno != EBADF)
        tu_fail(__FILE__, __LINE__,
                "%s: rc %d (%s), count %" PRIu64 ", errno %d", what, rc,
                zcio_err_name(rc), count, errno);
}

static void transfers(int file, const int p[2])
{
    int64_t off = 0;
    uint64_t n;
    int rc;

    reset(&n);
    rc = zcio_sendfile(bad, file, NULL, 10, &n);
    check_ebadf("sendfile out", rc, n);
    reset(&n);
    rc = zcio_sendfile(p[1], bad, &off, 10, &n);
    check_ebadf("sendfile in", rc, n);

    reset(&n);
    rc = zcio_splice(bad, NULL, p[1], NULL, 10, 0, &n);
    check_ebadf("splice in", rc, n);
    reset(&n);
    rc = zcio_splice(file, &off, bad, NULL, 10, 0, &n);
    check_ebadf("splice out", rc, n);

    reset(&n);
    rc = zcio_tee(bad, p[1], 10, 0, &n);
    check_ebadf("tee in", rc, n);
    reset(&n);
    rc = zcio_tee(p[0], bad, 10, 0, &n);
    check_ebadf("tee out", rc, n);

    reset(&n);
    rc = zcio_copy_file_range(bad, NULL, file, NULL, 10, &n);
    check_ebadf("copy_file_range in", rc, n);
    reset(&n);
    rc = zcio_copy_file_range(file, &off, bad, NULL, 10, &n);
    check_ebadf("copy_file_range out", rc, n);
    CHECK_I64(off, 0);
}

/* zcio_copy and zcio_transfer_new inspect the descriptors first. */
static void copies(int file)
{
    zcio_copy_result res;
    zcio_transfer *t = (zcio_transfer *)&res;
    int rc;

    for (int side = 0; side < 2; side++) {
        memset(&res, 0xff, sizeof(res));
        res.size = sizeof(res);
        errno = 0;
        rc = side ? zcio_copy(file, bad, 10, NULL, &res)
                  : zcio_copy(bad, file, 10, NULL, &res);
        check_ebadf(side ? "copy in" : "copy out", rc, res.moved);

        errno = 0;
        rc = side ? zcio_transfer_new(file, bad, 10, NULL, &t)
                  : zcio_transfer_new(bad, file, 10, NULL, &t);
        check_ebadf(side ? "transfer_new in" : "transfer_new out", rc,
                    t == NULL ? 0 : 1);
    }
}

static void map_open(void)
{
    zcio_map *map = (zcio_map *)&bad;
    int rc;

    errno = 0;
    rc = zcio_map_open(bad, 0, 0, ZCIO_MAP_READ, &map);
    check_ebadf("map_open", rc, map == NULL ? 0 : 1);
}

int main(void)
{
    uint8_t data[100];
    int file, p[2];

    CHECK(ZCIO_EBADF == -EBADF);
    tu_pattern(data, sizeof(data), 11);
    file = tu_temp_file(data, sizeof(data));
    CHECK_RC(zcio_pipe_new(0, 0, p), ZCIO_OK);
    tu_write_full(p[1], data, sizeof(data));
    bad = tu_closed_fd();

    transfers(file, p);
    copies(file);
    map_open();

    CHECK_I64(tu_pos(file), 0);
    close(file);
    close(p[0]);
    close(p[1]);
    return TU_PASS;
}
