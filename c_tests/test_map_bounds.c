/* zcio_map_open gives an empty mapping at end of file and rejects ranges
 * past it, or unknown flags, with *map_out set to NULL. */
#include "test_util.h"

#define FILE_SIZE (4096 + 300)

static uint8_t data[FILE_SIZE];

/* Opening must fail with want and leave *map_out NULL. */
static void expect_error(int fd, uint64_t offset, uint64_t len,
                         uint32_t flags, int want)
{
    zcio_map *map = (zcio_map *)&fd;

    CHECK_RC(zcio_map_open(fd, offset, len, flags, &map), want);
    CHECK(map == NULL);
}

/* Opening must succeed with an empty mapping. */
static void expect_empty(int fd, uint64_t offset)
{
    zcio_map *map = NULL;

    CHECK_RC(zcio_map_open(fd, offset, 0, ZCIO_MAP_READ, &map), ZCIO_OK);
    CHECK(map != NULL);
    CHECK_U64(zcio_map_len(map), 0);
    CHECK(zcio_map_data(map) != NULL);
    CHECK_RC(zcio_map_sync(map, 0, 0, 0), ZCIO_OK);
    zcio_map_close(map);
}

int main(void)
{
    int empty = tu_temp_file(NULL, 0);
    int fd;

    tu_pattern(data, sizeof(data), 9);
    fd = tu_temp_file(data, sizeof(data));

    expect_empty(empty, 0);
    expect_empty(fd, FILE_SIZE);

    expect_error(empty, 1, 0, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(empty, 0, 1, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(fd, FILE_SIZE + 1, 0, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(fd, 0, FILE_SIZE + 1, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(fd, 4097, FILE_SIZE - 4096, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(fd, FILE_SIZE, 1, ZCIO_MAP_READ, ZCIO_EBOUNDS);

    /* offset + len wraps around to a small number inside the file. */
    expect_error(fd, 4096, UINT64_MAX - 100, ZCIO_MAP_READ, ZCIO_EBOUNDS);
    expect_error(fd, UINT64_MAX, 2, ZCIO_MAP_READ, ZCIO_EBOUNDS);

    expect_error(fd, 0, 0, 0x100, ZCIO_EFLAGS);
    expect_error(fd, 0, 0, ZCIO_MAP_READ | 0x80000000u, ZCIO_EFLAGS);

    close(fd);
    close(empty);
    return TU_PASS;
}
