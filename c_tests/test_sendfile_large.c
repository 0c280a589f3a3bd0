/* zcio_sendfile moves exactly 3 GiB from a sparse tmpfs file to /dev/null,
 * looping over the kernel's 0x7ffff000-byte per-call cap. */
#include <sys/stat.h>

#include "test_util.h"

#define SIZE (UINT64_C(3) << 30)

int main(void)
{
    struct stat st;
    uint64_t sent = TU_POISON;
    int64_t off;
    int in, out;

    if (stat("/dev/shm", &st) != 0 || !S_ISDIR(st.st_mode))
        tu_skip("/dev/shm is not available");
    in = tu_temp_file_in("/dev/shm", NULL, 0);
    CHECK_SYS(ftruncate(in, (off_t)SIZE));
    out = (int)CHECK_SYS(open("/dev/null", O_WRONLY | O_CLOEXEC));

    /* The whole file through the descriptor's own position. */
    CHECK_RC(zcio_sendfile(out, in, NULL, ZCIO_TO_EOF, &sent), ZCIO_OK);
    CHECK_U64(sent, SIZE);
    CHECK_I64(tu_pos(in), SIZE);

    /* An exact count larger than one call can move. */
    off = 0;
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, SIZE, &sent), ZCIO_OK);
    CHECK_U64(sent, SIZE);
    CHECK_I64(off, SIZE);
    CHECK_I64(tu_pos(in), SIZE);

    /* A count just past the end, from an odd offset. */
    off = (INT64_C(1) << 30) + 5;
    sent = TU_POISON;
    CHECK_RC(zcio_sendfile(out, in, &off, SIZE, &sent), ZCIO_ESHORT);
    CHECK_U64(sent, SIZE - (UINT64_C(1) << 30) - 5);
    CHECK_I64(off, SIZE);

    close(out);
    close(in);
    return TU_PASS;
}
