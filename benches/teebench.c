/*
 * teebench: duplicate one stream to two consumers, with zcio_tee plus
 * zcio_splice and with read(2) plus two write(2)s through a 64 KiB buffer,
 * and print every round's samples as JSON for benches/run.py.
 *
 * Per transfer, a producer child splices the file (from the page cache)
 * into the input pipe; two consumer children splice their pipes into
 * /dev/null and check the byte count; this process duplicates. All pipes
 * ask for 1 MiB. Producer and consumers do the same work for both methods,
 * so the difference is the duplication. Wall time runs from the producer's
 * fork to the last consumer's exit; the duplicator's CPU and context
 * switches are its own getrusage(2) deltas, the children's from
 * RUSAGE_CHILDREN. Rounds alternate which method goes first.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zcio.h>

#define PROG "teebench"
#define MIB (1024ull * 1024ull)
#define PIPE_HINT MIB
#define RW_BUF (64 * 1024)
#define MAX_ROUNDS 100

enum { M_RW, M_TEE, M_COUNT };

static const char *const names[M_COUNT] = { "rw-64k", "zcio_tee" };

struct sample {
    double wall_ms;
    double cpu_ms;
    double child_cpu_ms;
    double nvcsw;
    double nivcsw;
};

static int src_fd;
static uint64_t size;
static unsigned char buf[RW_BUF];

static _Noreturn void fail(const char *what, int rc)
{
    fprintf(stderr, PROG ": %s: %s\n", what, zcio_strerror(rc));
    exit(1);
}

static void make_pipe(int fds[2])
{
    int rc = zcio_pipe_new(PIPE_HINT, 0, fds);

    if (rc != ZCIO_OK)
        fail("zcio_pipe_new", rc);
}

static void splice_to_end(int in, int out, uint64_t expect)
{
    uint64_t moved = 0;
    int rc = zcio_splice(in, NULL, out, NULL, ZCIO_TO_EOF, 0, &moved);

    _exit(rc == ZCIO_OK && moved == expect ? 0 : 1);
}

/* The producer fills the input pipe from the file, then closes it. */
static pid_t spawn_producer(int in[2])
{
    pid_t pid = fork();

    if (pid < 0)
        fail("fork", -errno);
    if (pid == 0) {
        int64_t off = 0;
        uint64_t moved = 0;
        int rc;

        close(in[0]);
        rc = zcio_splice(src_fd, &off, in[1], NULL, size, 0, &moved);
        _exit(rc == ZCIO_OK ? 0 : 1);
    }
    close(in[1]);
    return pid;
}

static pid_t spawn_consumer(int p[2], int other[2], int in_read)
{
    pid_t pid = fork();

    if (pid < 0)
        fail("fork", -errno);
    if (pid == 0) {
        int null_fd = open("/dev/null", O_WRONLY);

        close(p[1]);
        close(other[0]);
        close(other[1]);
        close(in_read);
        splice_to_end(p[0], null_fd, size);
    }
    return pid;
}

static void write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            fail("write", -errno);
        p += n;
        len -= (size_t)n;
    }
}

static void dup_rw(int in, int a, int b)
{
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("read", -errno);
        if (n == 0)
            return;
        write_all(a, buf, (size_t)n);
        write_all(b, buf, (size_t)n);
    }
}

/* tee copies page references into a; splice then moves them into b. */
static void dup_tee(int in, int a, int b)
{
    for (;;) {
        uint64_t n = 0, moved = 0;
        int rc = zcio_tee(in, a, PIPE_HINT, 0, &n);

        if (rc != ZCIO_OK)
            fail("zcio_tee", rc);
        if (n == 0)
            return;
        rc = zcio_splice(in, NULL, b, NULL, n, 0, &moved);
        if (rc != ZCIO_OK)
            fail("zcio_splice", rc);
    }
}

static double tv_ms(struct timeval tv)
{
    return (double)tv.tv_sec * 1e3 + (double)tv.tv_usec / 1e3;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void reap(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            fail("waitpid", -errno);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("a producer or consumer failed", ZCIO_EIO);
}

static struct sample run_one(int m)
{
    struct rusage s0, s1, c0, c1;
    int in[2], a[2], b[2];
    pid_t prod, ca, cb;
    struct sample s;
    double t0;

    make_pipe(in);
    make_pipe(a);
    make_pipe(b);
    getrusage(RUSAGE_SELF, &s0);
    getrusage(RUSAGE_CHILDREN, &c0);
    t0 = now_ms();
    prod = spawn_producer(in);
    ca = spawn_consumer(a, b, in[0]);
    cb = spawn_consumer(b, a, in[0]);
    close(a[0]);
    close(b[0]);
    if (m == M_RW)
        dup_rw(in[0], a[1], b[1]);
    else
        dup_tee(in[0], a[1], b[1]);
    close(a[1]);
    close(b[1]);
    close(in[0]);
    reap(prod);
    reap(ca);
    reap(cb);
    s.wall_ms = now_ms() - t0;
    getrusage(RUSAGE_SELF, &s1);
    getrusage(RUSAGE_CHILDREN, &c1);
    s.cpu_ms = tv_ms(s1.ru_utime) + tv_ms(s1.ru_stime) -
               tv_ms(s0.ru_utime) - tv_ms(s0.ru_stime);
    s.child_cpu_ms = tv_ms(c1.ru_utime) + tv_ms(c1.ru_stime) -
                     tv_ms(c0.ru_utime) - tv_ms(c0.ru_stime);
    s.nvcsw = (double)(s1.ru_nvcsw - s0.ru_nvcsw);
    s.nivcsw = (double)(s1.ru_nivcsw - s0.ru_nivcsw);
    return s;
}

static void print_field(const char *key, const struct sample *s, unsigned n,
                        size_t off)
{
    printf(",\"%s\":[", key);
    for (unsigned r = 0; r < n; r++)
        printf("%s%.4f", r ? "," : "",
               *(const double *)((const char *)&s[r] + off));
    putchar(']');
}

static void fill(int fd)
{
    uint64_t x = 0x2545f4914f6cdd1dull;
    static unsigned char chunk[MIB];

    for (uint64_t off = 0; off < size; off += MIB) {
        uint64_t len = size - off < MIB ? size - off : MIB;

        for (size_t i = 0; i + 8 <= MIB; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(chunk + i, &x, 8);
        }
        write_all(fd, chunk, len);
    }
    if (fdatasync(fd) < 0)
        fail("fdatasync", -errno);
}

int main(int argc, char **argv)
{
    static struct sample s[M_COUNT][MAX_ROUNDS];
    const char *dir = "/tmp";
    char path[PATH_MAX];
    unsigned rounds = 7;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--size") == 0)
            size = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0)
            rounds = (unsigned)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
    }
    if (size == 0 || rounds < 1 || rounds > MAX_ROUNDS) {
        fputs("Usage: " PROG " --size BYTES [--rounds N] [--dir DIR]\n",
              stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(path, sizeof(path), "%s/zcio-teebench.XXXXXX", dir);
    src_fd = mkostemp(path, O_CLOEXEC);
    if (src_fd < 0 || unlink(path) < 0)
        fail("creating the source file", -errno);
    fill(src_fd);
    run_one(M_RW);
    run_one(M_TEE);
    for (unsigned r = 0; r < rounds; r++) {
        for (int k = 0; k < M_COUNT; k++) {
            int m = (int)((r + (unsigned)k) % M_COUNT);

            s[m][r] = run_one(m);
        }
    }
    printf("{\"program\":\"" PROG "\",\"bytes\":%" PRIu64 ",\"rounds\":%u,"
           "\"baseline\":\"rw-64k\",\"methods\":[",
           size, rounds);
    for (int m = 0; m < M_COUNT; m++) {
        printf("%s\n {\"method\":\"%s\"", m ? "," : "", names[m]);
        print_field("wall_ms", s[m], rounds, offsetof(struct sample, wall_ms));
        print_field("cpu_ms", s[m], rounds, offsetof(struct sample, cpu_ms));
        print_field("child_cpu_ms", s[m], rounds,
                    offsetof(struct sample, child_cpu_ms));
        print_field("nvcsw", s[m], rounds, offsetof(struct sample, nvcsw));
        print_field("nivcsw", s[m], rounds, offsetof(struct sample, nivcsw));
        putchar('}');
    }
    printf("\n]}\n");
    return 0;
}
