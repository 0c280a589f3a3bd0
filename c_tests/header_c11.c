/* include/zcio.h compiles alone as strict C11 under -Wpedantic -Werror and
 * declares every function with exactly the signature of the C API. */
#include "zcio.h"
#include "zcio.h" /* the include guard makes a second include harmless */

int main(void)
{
    /* Each initialisation is a constraint violation, so an error here,
     * unless the declaration has exactly this type. */
    int (*sendfile_fn)(int, int, int64_t *, uint64_t, uint64_t *) =
        zcio_sendfile;
    int (*splice_fn)(int, int64_t *, int, int64_t *, uint64_t, uint32_t,
                     uint64_t *) = zcio_splice;
    int (*tee_fn)(int, int, uint64_t, uint32_t, uint64_t *) = zcio_tee;
    int (*copy_file_range_fn)(int, int64_t *, int, int64_t *, uint64_t,
                              uint64_t *) = zcio_copy_file_range;
    int (*pipe_new_fn)(uint32_t, uint32_t, int *) = zcio_pipe_new;
    int (*map_open_fn)(int, uint64_t, uint64_t, uint32_t, zcio_map **) =
        zcio_map_open;
    uint8_t *(*map_data_fn)(const zcio_map *) = zcio_map_data;
    uint64_t (*map_len_fn)(const zcio_map *) = zcio_map_len;
    int (*map_sync_fn)(zcio_map *, uint64_t, uint64_t, uint32_t) =
        zcio_map_sync;
    int (*map_advise_fn)(zcio_map *, uint64_t, uint64_t, uint32_t) =
        zcio_map_advise;
    void (*map_close_fn)(zcio_map *) = zcio_map_close;
    const char *(*strerror_fn)(int) = zcio_strerror;
    const char *(*err_name_fn)(int) = zcio_err_name;
    uint32_t (*version_fn)(void) = zcio_version;

    const uint32_t want = (uint32_t)ZCIO_VERSION_MAJOR << 16 |
                          (uint32_t)ZCIO_VERSION_MINOR << 8 |
                          (uint32_t)ZCIO_VERSION_PATCH;
    const uint64_t to_eof = ZCIO_TO_EOF;

    (void)sendfile_fn;
    (void)splice_fn;
    (void)tee_fn;
    (void)copy_file_range_fn;
    (void)pipe_new_fn;
    (void)map_open_fn;
    (void)map_data_fn;
    (void)map_len_fn;
    (void)map_sync_fn;
    (void)map_advise_fn;
    (void)map_close_fn;
    (void)strerror_fn;
    (void)err_name_fn;
    return version_fn() == want && to_eof == UINT64_MAX ? 0 : 1;
}
