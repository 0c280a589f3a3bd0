/* A program outside the zcio tree, built against an installed zcio: it
 * sends a file into a pipe with zcio_sendfile, checks every byte and the
 * count, and prints which file the library was loaded from. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zcio.h>

enum { PAYLOAD = 4096 };

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s\n", what, zcio_strerror(rc));
    return 1;
}

/* Writes PAYLOAD patterned bytes to an unlinked temporary file. */
static int make_input(char *expect)
{
    char path[] = "/tmp/zcio-consumer-XXXXXX";
    int fd = mkstemp(path);
    int i;

    if (fd < 0)
        return -1;
    unlink(path);
    for (i = 0; i < PAYLOAD; i++)
        expect[i] = (char)('a' + i % 26);
    if (write(fd, expect, PAYLOAD) != PAYLOAD) {
        close(fd);
        return -1;
    }
    return fd;
}

int main(void)
{
    static char expect[PAYLOAD], got[PAYLOAD];
    uint32_t built = (ZCIO_VERSION_MAJOR << 16) | (ZCIO_VERSION_MINOR << 8) |
                     ZCIO_VERSION_PATCH;
    int64_t offset = 0;
    uint64_t sent = 0;
    int fds[2], in_fd, rc;
    Dl_info info;

    if (zcio_version() != built) {
        fprintf(stderr, "consumer: header %#x, library %#x\n",
                (unsigned)built, (unsigned)zcio_version());
        return 1;
    }
    in_fd = make_input(expect);
    if (in_fd < 0 || pipe(fds) != 0) {
        perror("consumer: setup");
        return 1;
    }

    rc = zcio_sendfile(fds[1], in_fd, &offset, PAYLOAD, &sent);
    if (rc != ZCIO_OK)
        return fail("zcio_sendfile", rc);
    if (sent != PAYLOAD || offset != PAYLOAD) {
        fprintf(stderr, "consumer: sent %llu, offset %lld\n",
                (unsigned long long)sent, (long long)offset);
        return 1;
    }
    if (read(fds[0], got, PAYLOAD) != PAYLOAD ||
        memcmp(got, expect, PAYLOAD) != 0) {
        fprintf(stderr, "consumer: the pipe holds other bytes\n");
        return 1;
    }

    if (dladdr((void *)(uintptr_t)zcio_version, &info) == 0)
        info.dli_fname = "?";
    printf("consumer: sent %d bytes with zcio %s; zcio from %s\n", PAYLOAD,
           zcio_err_name(rc), info.dli_fname);
    return 0;
}
