/* zcio_map_advise accepts every advice value on a mapping, including ranges
 * that do not start on a page, and rejects bad advice and bad ranges. */
#include "test_util.h"

#define FILE_SIZE (16 * 4096 + 123)

static uint8_t data[FILE_SIZE];

static const uint32_t advice[] = {
    ZCIO_ADVICE_NORMAL,   ZCIO_ADVICE_SEQUENTIAL, ZCIO_ADVICE_RANDOM,
    ZCIO_ADVICE_WILLNEED, ZCIO_ADVICE_DONTNEED,
};

/* Every advice on the whole mapping and on an unaligned sub-range; the
 * bytes are intact afterwards (DONTNEED only drops clean pages). */
static void every_advice(zcio_map *map, uint64_t len, const uint8_t *want)
{
    int rc;

    for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
        CHECK_RC(zcio_map_advise(map, 0, 0, advice[i]), ZCIO_OK);
        CHECK_RC(zcio_map_advise(map, 0, len, advice[i]), ZCIO_OK);
        CHECK_RC(zcio_map_advise(map, 10, 100, advice[i]), ZCIO_OK);
        CHECK_RC(zcio_map_advise(map, 4097, 0, advice[i]), ZCIO_OK);
        CHECK(memcmp(zcio_map_data(map), want, len) == 0);
    }

    /* Transparent huge pages may not apply to file mappings. */
    rc = zcio_map_advise(map, 0, 0, ZCIO_ADVICE_HUGEPAGE);
    if (rc != ZCIO_OK)
        CHECK_RC(rc, ZCIO_EINVAL);
    CHECK_RC(zcio_map_advise(map, 0, 0, ZCIO_ADVICE_NORMAL), ZCIO_OK);
}

static void bad_arguments(zcio_map *map, uint64_t len)
{
    CHECK_RC(zcio_map_advise(map, 0, 0, ZCIO_ADVICE_HUGEPAGE + 1),
             ZCIO_EFLAGS);
    CHECK_RC(zcio_map_advise(map, 0, 0, 0xFFFFFFFFu), ZCIO_EFLAGS);
    CHECK_RC(zcio_map_advise(map, 0, len + 1, ZCIO_ADVICE_NORMAL),
             ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_advise(map, len + 1, 0, ZCIO_ADVICE_NORMAL),
             ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_advise(map, len, 1, ZCIO_ADVICE_NORMAL), ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_advise(map, 1, UINT64_MAX, ZCIO_ADVICE_NORMAL),
             ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_advise(NULL, 0, 0, ZCIO_ADVICE_NORMAL), ZCIO_ENULL);
}

int main(void)
{
    zcio_map *map = NULL;
    int fd;

    tu_pattern(data, sizeof(data), 10);
    fd = tu_temp_file(data, sizeof(data));

    CHECK_RC(zcio_map_open(fd, 0, 0, ZCIO_MAP_READ, &map), ZCIO_OK);
    every_advice(map, FILE_SIZE, data);
    bad_arguments(map, FILE_SIZE);
    zcio_map_close(map);

    /* A mapping whose first byte is not on a page boundary. */
    CHECK_RC(zcio_map_open(fd, 3, 0, ZCIO_MAP_READ, &map), ZCIO_OK);
    every_advice(map, FILE_SIZE - 3, data + 3);
    bad_arguments(map, FILE_SIZE - 3);
    zcio_map_close(map);

    close(fd);
    return TU_PASS;
}
