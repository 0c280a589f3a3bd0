// include/zcio.h compiles alone as C++17 under -Wpedantic -Werror, with C
// linkage, and declares every function with the signature of the C API.
#include "zcio.h"
#include "zcio.h" // the include guard makes a second include harmless

#include <cstdint>
#include <type_traits>

template <typename Want, typename Got>
constexpr bool same = std::is_same_v<Want, Got>;

static_assert(same<int(int, int, int64_t *, uint64_t, uint64_t *),
                   decltype(zcio_sendfile)>);
static_assert(same<int(int, int64_t *, int, int64_t *, uint64_t, uint32_t,
                       uint64_t *),
                   decltype(zcio_splice)>);
static_assert(same<int(int, int, uint64_t, uint32_t, uint64_t *),
                   decltype(zcio_tee)>);
static_assert(same<int(int, int64_t *, int, int64_t *, uint64_t, uint64_t *),
                   decltype(zcio_copy_file_range)>);
static_assert(same<int(uint32_t, uint32_t, int *), decltype(zcio_pipe_new)>);
static_assert(same<int(int, uint64_t, uint64_t, uint32_t, zcio_map **),
                   decltype(zcio_map_open)>);
static_assert(same<uint8_t *(const zcio_map *), decltype(zcio_map_data)>);
static_assert(same<uint64_t(const zcio_map *), decltype(zcio_map_len)>);
static_assert(same<int(zcio_map *, uint64_t, uint64_t, uint32_t),
                   decltype(zcio_map_sync)>);
static_assert(same<int(zcio_map *, uint64_t, uint64_t, uint32_t),
                   decltype(zcio_map_advise)>);
static_assert(same<void(zcio_map *), decltype(zcio_map_close)>);
static_assert(same<const char *(int), decltype(zcio_strerror)>);
static_assert(same<const char *(int), decltype(zcio_err_name)>);
static_assert(same<uint32_t(), decltype(zcio_version)>);

static_assert(ZCIO_TO_EOF == UINT64_MAX);
static_assert(ZCIO_OK == 0);

int main()
{
    constexpr uint32_t want = uint32_t{ZCIO_VERSION_MAJOR} << 16 |
                              uint32_t{ZCIO_VERSION_MINOR} << 8 |
                              uint32_t{ZCIO_VERSION_PATCH};

    return zcio_version() == want ? 0 : 1;
}
