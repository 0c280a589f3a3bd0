/* include/zcio.h compiles alone as strict C99 under -Wpedantic -Werror, and
 * a C99 program links and calls it. */
#include "zcio.h"

int main(void)
{
    zcio_copy_result res = { 0 };

    res.size = sizeof res;
    return zcio_version() >> 16 == ZCIO_VERSION_MAJOR && res.moved == 0 ? 0
                                                                        : 1;
}
