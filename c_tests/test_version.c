/* zcio_version() agrees with the header's version macros, and those with the
 * version in Cargo.toml. */
#include "test_util.h"

int main(void)
{
    uint32_t want = (uint32_t)ZCIO_VERSION_MAJOR << 16 |
                    (uint32_t)ZCIO_VERSION_MINOR << 8 |
                    (uint32_t)ZCIO_VERSION_PATCH;

    if (zcio_version() != want)
        tu_fail(__FILE__, __LINE__, "zcio_version() is 0x%06x, header 0x%06x",
                (unsigned)zcio_version(), (unsigned)want);

    /* EXPECTED_VERSION_* come from Cargo.toml through CMake. */
    CHECK(ZCIO_VERSION_MAJOR == EXPECTED_VERSION_MAJOR);
    CHECK(ZCIO_VERSION_MINOR == EXPECTED_VERSION_MINOR);
    CHECK(ZCIO_VERSION_PATCH == EXPECTED_VERSION_PATCH);
    return TU_PASS;
}
