/* Helpers shared by the zcio C tests: checks that name the failing line and
 * decode zcio codes, unlinked temporary files, and descriptor bookkeeping. */
#ifndef ZCIO_TEST_UTIL_H
#define ZCIO_TEST_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "zcio.h"

/* Exit codes: CTest treats 77 as "skipped" (SKIP_RETURN_CODE). */
enum { TU_PASS = 0, TU_FAIL = 1, TU_SKIP = 77 };

#if defined(__GNUC__)
#define TU_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define TU_PRINTF(f, a)
#endif

TU_PRINTF(3, 4)
static inline void tu_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(TU_FAIL);
}

/* Exits with 77; only for a kernel or system that lacks the feature. */
TU_PRINTF(1, 2)
static inline void tu_skip(const char *fmt, ...)
{
    va_list ap;

    fputs("SKIP: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(TU_SKIP);
}

static inline void tu_check_rc(const char *file, int line, const char *expr,
                               int got, int want)
{
    if (got == want)
        return;
    tu_fail(file, line, "%s returned %d %s (%s), expected %d %s (%s)", expr,
            got, zcio_err_name(got), zcio_strerror(got), want,
            zcio_err_name(want), zcio_strerror(want));
}

static inline void tu_check_u64(const char *file, int line, const char *expr,
                                uint64_t got, uint64_t want)
{
    if (got != want)
        tu_fail(file, line, "%s is %" PRIu64 ", expected %" PRIu64, expr, got,
                want);
}

static inline void tu_check_i64(const char *file, int line, const char *expr,
                                int64_t got, int64_t want)
{
    if (got != want)
        tu_fail(file, line, "%s is %" PRId64 ", expected %" PRId64, expr, got,
                want);
}

static inline long tu_check_sys(const char *file, int line, const char *expr,
                                long ret)
{
    if (ret == -1)
        tu_fail(file, line, "%s failed: %s", expr, strerror(errno));
    return ret;
}

/* Fails the test unless cond holds. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond))                                                         \
            tu_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);                 \
    } while (0)

/* Checks the code a zcio call returned, naming both codes on mismatch. */
#define CHECK_RC(expr, want)                                                 \
    tu_check_rc(__FILE__, __LINE__, #expr, (expr), (want))

/* Checks a byte count or other unsigned 64-bit value. */
#define CHECK_U64(got, want)                                                 \
    tu_check_u64(__FILE__, __LINE__, #got, (uint64_t)(got), (uint64_t)(want))

/* Checks an offset or other signed 64-bit value. */
#define CHECK_I64(got, want)                                                 \
    tu_check_i64(__FILE__, __LINE__, #got, (int64_t)(got), (int64_t)(want))

/* Checks a libc call that returns -1 with errno set; yields its result. */
#define CHECK_SYS(expr) tu_check_sys(__FILE__, __LINE__, #expr, (long)(expr))

/* A value no call leaves in an out-parameter by accident. */
#define TU_POISON UINT64_C(0xdeadbeefcafe)

/* Fills buf with bytes from a xorshift generator, so that a copy taken from
 * the wrong offset never matches by accident. */
static inline void tu_pattern(void *buf, size_t len, uint64_t seed)
{
    uint8_t *p = buf;
    uint64_t x = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (uint8_t)(x >> 24);
    }
}

static inline void *tu_xmalloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (p == NULL)
        tu_fail(__FILE__, __LINE__, "out of memory for %zu bytes", len);
    return p;
}

/* Returns a malloc'd buffer of len pattern bytes. */
static inline uint8_t *tu_pattern_alloc(size_t len, uint64_t seed)
{
    uint8_t *p = tu_xmalloc(len);

    tu_pattern(p, len, seed);
    return p;
}

static inline void tu_write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            tu_fail(__FILE__, __LINE__, "write: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until len bytes or end of file; returns the number read. */
static inline size_t tu_read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, p + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            tu_fail(__FILE__, __LINE__, "read: %s", strerror(errno));
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* Like tu_read_full at a fixed offset, leaving the file position alone. */
static inline size_t tu_pread_full(int fd, void *buf, size_t len, off_t off)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, off + (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            tu_fail(__FILE__, __LINE__, "pread: %s", strerror(errno));
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* Returns the file position of fd. */
static inline int64_t tu_pos(int fd)
{
    return (int64_t)CHECK_SYS(lseek(fd, 0, SEEK_CUR));
}

static inline void tu_seek(int fd, int64_t pos)
{
    CHECK_I64(CHECK_SYS(lseek(fd, (off_t)pos, SEEK_SET)), pos);
}

static inline const char *tu_tmpdir(void)
{
    const char *dir = getenv("TMPDIR");

    return dir != NULL && dir[0] != '\0' ? dir : "/tmp";
}

/* Returns an O_RDWR descriptor of a new file in dir holding len bytes of
 * data (data may be NULL when len is 0). The file is unlinked at once, so
 * nothing is left behind however the test ends. */
static inline int tu_temp_file_in(const char *dir, const void *data,
                                  size_t len)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/zcio-test-XXXXXX", dir);
    fd = (int)CHECK_SYS(mkstemp(path));
    CHECK_SYS(unlink(path));
    if (len > 0)
        tu_write_full(fd, data, len);
    tu_seek(fd, 0);
    return fd;
}

static inline int tu_temp_file(const void *data, size_t len)
{
    return tu_temp_file_in(tu_tmpdir(), data, len);
}

/* Reads whatever the socket holds now, after waiting for at least one byte;
 * returns the number of bytes read into buf (at most room). */
static inline size_t tu_drain(int fd, uint8_t *buf, size_t room)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    size_t got = 0;

    CHECK_SYS(poll(&pfd, 1, -1));
    while (got < room) {
        ssize_t n = recv(fd, buf + got, room - got, MSG_DONTWAIT);

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        CHECK(n > 0);
        got += (size_t)n;
    }
    return got;
}

/* Opens the file behind fd again with other flags (e.g. O_RDONLY); works
 * for unlinked files through /proc/self/fd. */
static inline int tu_reopen(int fd, int flags)
{
    char path[64];

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return (int)CHECK_SYS(open(path, flags | O_CLOEXEC));
}

/* Returns the number of descriptors this process has open. */
static inline int tu_fd_count(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    int count = 0;

    if (dir == NULL)
        tu_fail(__FILE__, __LINE__, "opendir /proc/self/fd: %s",
                strerror(errno));
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_name[0] != '.')
            count++;
    }
    closedir(dir);
    return count - 1; /* the directory's own descriptor */
}

/* Returns a descriptor number that is not open. It is far above the lowest
 * free number, so a descriptor opened meanwhile does not take it. */
static inline int tu_closed_fd(void)
{
    int fd = 900;

    while (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
        fd++;
    return fd;
}

/* A thread that reads a fixed number of bytes (or until end of file) from a
 * descriptor, so that a blocking writer in the main thread can finish. */
struct tu_reader {
    pthread_t thread;
    int fd;
    size_t want;
    size_t got;
    uint8_t *buf;
};

static inline void *tu_reader_main(void *arg)
{
    struct tu_reader *r = arg;

    r->got = tu_read_full(r->fd, r->buf, r->want);
    return NULL;
}

static inline void tu_reader_start(struct tu_reader *r, int fd, size_t want)
{
    int err;

    r->fd = fd;
    r->want = want;
    r->got = 0;
    r->buf = tu_xmalloc(want);
    err = pthread_create(&r->thread, NULL, tu_reader_main, r);
    if (err != 0)
        tu_fail(__FILE__, __LINE__, "pthread_create: %s", strerror(err));
}

/* Waits for the reader; returns its buffer (the caller frees it). */
static inline uint8_t *tu_reader_join(struct tu_reader *r)
{
    int err = pthread_join(r->thread, NULL);

    if (err != 0)
        tu_fail(__FILE__, __LINE__, "pthread_join: %s", strerror(err));
    return r->buf;
}

#endif /* ZCIO_TEST_UTIL_H */
