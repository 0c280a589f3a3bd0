/* Writes through a ZCIO_MAP_WRITE mapping reach the file after zcio_map_sync,
 * writes to a ZCIO_MAP_PRIVATE mapping never do, and a shared writable
 * mapping of a read-only descriptor is refused with -EACCES. */
#include "test_util.h"

#define FILE_SIZE (2 * 4096 + 5)

static uint8_t data[FILE_SIZE];

static uint8_t flip(uint8_t b)
{
    return (uint8_t)(b ^ 0xff);
}

static uint8_t file_byte(int fd, off_t off)
{
    uint8_t b;

    CHECK_U64(tu_pread_full(fd, &b, 1, off), 1);
    return b;
}

static void shared_write(void)
{
    int fd = tu_temp_file(data, FILE_SIZE);
    zcio_map *map = NULL;
    uint8_t *p;

    CHECK_RC(zcio_map_open(fd, 0, 0, ZCIO_MAP_READ | ZCIO_MAP_WRITE, &map),
             ZCIO_OK);
    p = zcio_map_data(map);
    p[0] = flip(data[0]);
    p[FILE_SIZE - 1] = flip(data[FILE_SIZE - 1]);
    CHECK_RC(zcio_map_sync(map, 0, 0, 0), ZCIO_OK);
    CHECK(file_byte(fd, 0) == flip(data[0]));
    CHECK(file_byte(fd, FILE_SIZE - 1) == flip(data[FILE_SIZE - 1]));

    /* A sub-range, synchronous and asynchronous. */
    p[4100] = flip(data[4100]);
    CHECK_RC(zcio_map_sync(map, 4100, 1, 0), ZCIO_OK);
    CHECK_RC(zcio_map_sync(map, 4000, 200, ZCIO_SYNC_ASYNC), ZCIO_OK);
    CHECK(file_byte(fd, 4100) == flip(data[4100]));

    /* Sync ranges are checked like any other. */
    CHECK_RC(zcio_map_sync(map, 0, FILE_SIZE + 1, 0), ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_sync(map, FILE_SIZE + 1, 0, 0), ZCIO_EBOUNDS);
    CHECK_RC(zcio_map_sync(map, 0, 0, 0x10), ZCIO_EFLAGS);
    zcio_map_close(map);
    close(fd);
}

/* A mapping that starts mid-page: data[0] is file byte 5000, and syncing
 * part of it works although the address is not page-aligned. */
static void shared_write_unaligned(void)
{
    int fd = tu_temp_file(data, FILE_SIZE);
    zcio_map *map = NULL;
    uint8_t *p;

    CHECK_RC(zcio_map_open(fd, 5000, 100, ZCIO_MAP_READ | ZCIO_MAP_WRITE,
                           &map),
             ZCIO_OK);
    p = zcio_map_data(map);
    CHECK(p[0] == data[5000]);
    p[0] = flip(data[5000]);
    p[99] = flip(data[5099]);
    CHECK_RC(zcio_map_sync(map, 0, 1, 0), ZCIO_OK);
    CHECK_RC(zcio_map_sync(map, 50, 0, 0), ZCIO_OK);
    CHECK_RC(zcio_map_sync(map, 0, 101, 0), ZCIO_EBOUNDS);
    CHECK(file_byte(fd, 5000) == flip(data[5000]));
    CHECK(file_byte(fd, 5099) == flip(data[5099]));
    CHECK(file_byte(fd, 5100) == data[5100]);
    CHECK(file_byte(fd, 4999) == data[4999]);
    zcio_map_close(map);
    close(fd);
}

/* Copy-on-write: the mapping sees its own change, the file does not; this
 * works on a read-only descriptor too. */
static void private_write(int flags_fd)
{
    int fd = tu_temp_file(data, FILE_SIZE);
    int ro = tu_reopen(fd, flags_fd);
    zcio_map *map = NULL;
    uint8_t *p;

    CHECK_RC(zcio_map_open(ro, 0, 0,
                           ZCIO_MAP_READ | ZCIO_MAP_WRITE | ZCIO_MAP_PRIVATE,
                           &map),
             ZCIO_OK);
    p = zcio_map_data(map);
    p[10] = flip(data[10]);
    CHECK_RC(zcio_map_sync(map, 0, 0, 0), ZCIO_OK);
    CHECK(p[10] == flip(data[10]));
    CHECK(file_byte(fd, 10) == data[10]);
    zcio_map_close(map);
    close(ro);
    close(fd);
}

/* ZCIO_MAP_WRITE is shared, so the descriptor must be open for writing. */
static void shared_write_readonly_fd(void)
{
    int fd = tu_temp_file(data, FILE_SIZE);
    int ro = tu_reopen(fd, O_RDONLY);
    zcio_map *map = (zcio_map *)&fd;

    errno = 0;
    CHECK_RC(zcio_map_open(ro, 0, 0, ZCIO_MAP_READ | ZCIO_MAP_WRITE, &map),
             -EACCES);
    CHECK(map == NULL);
    CHECK(errno == EACCES);
    CHECK(ZCIO_EACCES == -EACCES);
    close(ro);
    close(fd);
}

int main(void)
{
    tu_pattern(data, sizeof(data), 8);

    shared_write();
    shared_write_unaligned();
    private_write(O_RDWR);
    private_write(O_RDONLY);
    shared_write_readonly_fd();
    return TU_PASS;
}
