/* zcio_map_open maps a file for reading at aligned and unaligned offsets,
 * and the mapping outlives the descriptor it was made from. */
#include "test_util.h"

#define FILE_SIZE (3 * 4096 + 100)

static uint8_t data[FILE_SIZE];

static void whole_file(int fd, uint32_t flags)
{
    zcio_map *map = NULL;

    CHECK_RC(zcio_map_open(fd, 0, 0, flags, &map), ZCIO_OK);
    CHECK(map != NULL);
    CHECK_U64(zcio_map_len(map), FILE_SIZE);
    CHECK(zcio_map_data(map) != NULL);
    CHECK(memcmp(zcio_map_data(map), data, FILE_SIZE) == 0);
    zcio_map_close(map);
}

/* An unaligned offset: the pointer is at the requested byte. */
static void unaligned(int fd)
{
    zcio_map *map = NULL;

    CHECK_RC(zcio_map_open(fd, 4097, 0, ZCIO_MAP_READ, &map), ZCIO_OK);
    CHECK_U64(zcio_map_len(map), FILE_SIZE - 4097);
    CHECK(zcio_map_data(map)[0] == data[4097]);
    CHECK(memcmp(zcio_map_data(map), data + 4097, FILE_SIZE - 4097) == 0);
    zcio_map_close(map);

    CHECK_RC(zcio_map_open(fd, 4097, 10, ZCIO_MAP_READ, &map), ZCIO_OK);
    CHECK_U64(zcio_map_len(map), 10);
    CHECK(memcmp(zcio_map_data(map), data + 4097, 10) == 0);
    zcio_map_close(map);

    /* A range that ends exactly at end of file. */
    CHECK_RC(zcio_map_open(fd, 5, FILE_SIZE - 5, ZCIO_MAP_READ, &map),
             ZCIO_OK);
    CHECK_U64(zcio_map_len(map), FILE_SIZE - 5);
    CHECK(memcmp(zcio_map_data(map), data + 5, FILE_SIZE - 5) == 0);
    zcio_map_close(map);
}

/* Closing the descriptor right after zcio_map_open keeps the mapping, and
 * neither call leaves a descriptor open. */
static void close_fd_early(int fd)
{
    int before = tu_fd_count();
    int copy = tu_reopen(fd, O_RDONLY);
    zcio_map *map = NULL;

    CHECK_RC(zcio_map_open(copy, 8192, 0, ZCIO_MAP_READ, &map), ZCIO_OK);
    CHECK_SYS(close(copy));
    CHECK_U64(zcio_map_len(map), FILE_SIZE - 8192);
    CHECK(memcmp(zcio_map_data(map), data + 8192, FILE_SIZE - 8192) == 0);
    zcio_map_close(map);
    CHECK(tu_fd_count() == before);
}

/* The NULL map is harmless everywhere it is allowed. */
static void null_map(void)
{
    CHECK(zcio_map_data(NULL) == NULL);
    CHECK_U64(zcio_map_len(NULL), 0);
    zcio_map_close(NULL);
}

int main(void)
{
    int fd;

    tu_pattern(data, sizeof(data), 7);
    fd = tu_temp_file(data, sizeof(data));

    whole_file(fd, ZCIO_MAP_READ);
    whole_file(fd, 0);
    whole_file(fd, ZCIO_MAP_READ | ZCIO_MAP_POPULATE);
    whole_file(fd, ZCIO_MAP_READ | ZCIO_MAP_PRIVATE);
    unaligned(fd);
    close_fd_early(fd);
    null_map();

    close(fd);
    return TU_PASS;
}
