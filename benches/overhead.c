/*
 * overhead: time each zcio call against a C loop of the raw system call it
 * wraps, at the transfer sizes given, and print every round's samples as
 * JSON for benches/run.py to reduce.
 *
 * How the comparison is kept fair:
 * - Every group moves the same bytes from one file, written, synced and
 *   read once before timing, so every call reads from the page cache.
 *   Operations walk a 16 MiB window of it (or the whole transfer, if
 *   larger) at positional offsets, so none re-reads the same cache lines.
 * - Outputs that cost nothing of their own (/dev/null, a pipe drained to
 *   /dev/null) leave the call itself as the figure: the harshest case for
 *   per-call overhead. Transfers larger than a pipe loop over pipe-sized
 *   steps with the raw and the zcio variant alike.
 * - One operation is one transfer of SIZE bytes. They run in batches of at
 *   least --min-ms; every round runs one batch of each variant of a group,
 *   starting one variant further on each round, so drift spreads over all.
 * - CPU time and context switches come from getrusage(2), self and waited
 *   children (cp), per batch.
 *
 * Groups (the first variant of each is its baseline):
 *   sendfile  raw sendfile(2) | zcio_sendfile | zcio_copy | zcio_transfer
 *             (new + steps + free), file to /dev/null
 *   splice    raw splice(2) file->pipe->/dev/null | zcio_splice twice
 *   tee       raw tee(2) pipe->pipe | zcio_tee, each drained by splice(2)
 *   cfr       raw copy_file_range(2) | zcio_copy_file_range | zcio_copy,
 *             rewriting a destination file in place
 *   mapread   memcpy from a mapping | zcio_map_read | pread(2)
 *   filecopy  a whole file copy to a new file (open O_TRUNC, copy, close):
 *             pread/write 64 KiB | zcio_copy | cp(1)
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
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zcio.h>

#define PROG "overhead"
#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define WINDOW (16 * MIB)
#define PIPE_HINT MIB
#define RW_BUF (64 * KIB)
#define MAX_ROUNDS 100
#define MAX_SIZES 8
#define MAX_VARIANTS 4

struct ctx {
    int src;
    int dst;
    int null_fd;
    int pa[2];
    int pb[2];
    uint64_t pipe_size;
    uint64_t file_size;
    zcio_map *map;
    unsigned char *buf;
    char src_path[PATH_MAX];
    char dst_path[PATH_MAX];
    char copy_path[PATH_MAX];
    uint64_t op;
    uint32_t copy_mech;
};

typedef void (*op_fn)(struct ctx *c, uint64_t off, uint64_t size);

struct variant {
    const char *name;
    op_fn fn;
};

struct group {
    const char *name;
    const char *what;
    struct variant v[MAX_VARIANTS];
};

static struct ctx g;

static _Noreturn void fail(const char *what, int rc)
{
    fprintf(stderr, PROG ": %s: %s\n", what, zcio_strerror(rc));
    unlink(g.src_path);
    unlink(g.dst_path);
    unlink(g.copy_path);
    exit(1);
}

static void check_errno(bool ok, const char *what)
{
    if (!ok)
        fail(what, -errno);
}

static void check_zcio(int rc, const char *what)
{
    if (rc != ZCIO_OK)
        fail(what, rc);
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* --- raw loops and zcio calls, one operation each ----------------------- */

static void raw_sendfile(struct ctx *c, uint64_t off, uint64_t size)
{
    off_t o = (off_t)off;
    uint64_t left = size;

    while (left > 0) {
        ssize_t n = sendfile(c->null_fd, c->src, &o, left);

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "sendfile");
        left -= (uint64_t)n;
    }
}

static void zc_sendfile(struct ctx *c, uint64_t off, uint64_t size)
{
    int64_t o = (int64_t)off;
    uint64_t sent;

    check_zcio(zcio_sendfile(c->null_fd, c->src, &o, size, &sent),
               "zcio_sendfile");
}

static void copy_once(struct ctx *c, int out, uint64_t off, int64_t *out_off,
                      uint64_t size)
{
    int64_t o = (int64_t)off;
    zcio_copy_opts opts;
    zcio_copy_result res = { .size = sizeof(res) };

    zcio_copy_opts_init(&opts);
    opts.in_offset = &o;
    opts.out_offset = out_off;
    check_zcio(zcio_copy(out, c->src, size, &opts, &res), "zcio_copy");
    c->copy_mech = res.mechanism;
}

static void zc_copy_null(struct ctx *c, uint64_t off, uint64_t size)
{
    copy_once(c, c->null_fd, off, NULL, size);
}

static void zc_transfer(struct ctx *c, uint64_t off, uint64_t size)
{
    int64_t o = (int64_t)off;
    zcio_copy_opts opts;
    zcio_transfer *t;
    int rc;

    zcio_copy_opts_init(&opts);
    opts.in_offset = &o;
    check_zcio(zcio_transfer_new(c->null_fd, c->src, size, &opts, &t),
               "zcio_transfer_new");
    while ((rc = zcio_transfer_step(t, 0, NULL)) == ZCIO_MORE)
        continue;
    check_zcio(rc, "zcio_transfer_step");
    zcio_transfer_free(t);
}

static void raw_splice_all(int in, loff_t *off, int out, uint64_t len)
{
    while (len > 0) {
        ssize_t n = splice(in, off, out, NULL, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "splice");
        len -= (uint64_t)n;
    }
}

/*
 * Pipe-sized steps: file into pipe B, pipe B into /dev/null (pipe A is
 * kept full for the tee group).
 */
static void raw_splice(struct ctx *c, uint64_t off, uint64_t size)
{
    loff_t o = (loff_t)off;

    for (uint64_t done = 0; done < size;) {
        uint64_t len = min_u64(c->pipe_size, size - done);

        raw_splice_all(c->src, &o, c->pb[1], len);
        raw_splice_all(c->pb[0], NULL, c->null_fd, len);
        done += len;
    }
}

static void zc_splice(struct ctx *c, uint64_t off, uint64_t size)
{
    int64_t o = (int64_t)off;
    uint64_t moved;

    for (uint64_t done = 0; done < size;) {
        uint64_t len = min_u64(c->pipe_size, size - done);

        check_zcio(zcio_splice(c->src, &o, c->pb[1], NULL, len, 0, &moved),
                   "zcio_splice in");
        check_zcio(zcio_splice(c->pb[0], NULL, c->null_fd, NULL, len, 0,
                               &moved),
                   "zcio_splice out");
        done += len;
    }
}

/*
 * Pipe A holds one pipe's worth of file data for the whole run and is never
 * drained: each step duplicates from it into pipe B, which a raw splice
 * empties into /dev/null, the same in both variants.
 */
static void raw_tee(struct ctx *c, uint64_t off, uint64_t size)
{
    (void)off;
    for (uint64_t done = 0; done < size;) {
        uint64_t want = min_u64(c->pipe_size, size - done);
        ssize_t n = tee(c->pa[0], c->pb[1], want, 0);

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "tee");
        raw_splice_all(c->pb[0], NULL, c->null_fd, (uint64_t)n);
        done += (uint64_t)n;
    }
}

static void zc_tee(struct ctx *c, uint64_t off, uint64_t size)
{
    (void)off;
    for (uint64_t done = 0; done < size;) {
        uint64_t want = min_u64(c->pipe_size, size - done);
        uint64_t n;

        check_zcio(zcio_tee(c->pa[0], c->pb[1], want, 0, &n), "zcio_tee");
        if (n == 0)
            fail("zcio_tee", ZCIO_ESHORT);
        raw_splice_all(c->pb[0], NULL, c->null_fd, n);
        done += n;
    }
}

static void raw_cfr(struct ctx *c, uint64_t off, uint64_t size)
{
    loff_t in = (loff_t)off, out = (loff_t)(off % WINDOW);
    uint64_t left = size;

    while (left > 0) {
        ssize_t n = copy_file_range(c->src, &in, c->dst, &out, left, 0);

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "copy_file_range");
        left -= (uint64_t)n;
    }
}

static void zc_cfr(struct ctx *c, uint64_t off, uint64_t size)
{
    int64_t in = (int64_t)off, out = (int64_t)(off % WINDOW);
    uint64_t n;

    check_zcio(zcio_copy_file_range(c->src, &in, c->dst, &out, size, &n),
               "zcio_copy_file_range");
}

static void zc_copy_file(struct ctx *c, uint64_t off, uint64_t size)
{
    int64_t out = (int64_t)(off % WINDOW);

    copy_once(c, c->dst, off, &out, size);
}

static void raw_memcpy(struct ctx *c, uint64_t off, uint64_t size)
{
    memcpy(c->buf, zcio_map_data(c->map) + off, size);
}

static void zc_map_read(struct ctx *c, uint64_t off, uint64_t size)
{
    uint64_t n;

    check_zcio(zcio_map_read(c->map, off, c->buf, size, &n),
               "zcio_map_read");
}

static void raw_pread(struct ctx *c, uint64_t off, uint64_t size)
{
    for (uint64_t done = 0; done < size;) {
        ssize_t n = pread(c->src, c->buf + done, size - done,
                          (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "pread");
        done += (uint64_t)n;
    }
}

/* --- whole-file copies into a fresh file -------------------------------- */

static int open_copy(struct ctx *c)
{
    int fd = open(c->copy_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0600);

    check_errno(fd >= 0, "open the copy");
    return fd;
}

static void write_all(int fd, const unsigned char *p, uint64_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "write");
        p += n;
        len -= (uint64_t)n;
    }
}

static void rw_file(struct ctx *c, uint64_t off, uint64_t size)
{
    int fd = open_copy(c);

    for (uint64_t done = 0; done < size;) {
        ssize_t n = pread(c->src, c->buf, min_u64(RW_BUF, size - done),
                          (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        check_errno(n > 0, "pread");
        write_all(fd, c->buf, (uint64_t)n);
        done += (uint64_t)n;
    }
    close(fd);
}

static void zc_copy_new(struct ctx *c, uint64_t off, uint64_t size)
{
    int fd = open_copy(c);

    copy_once(c, fd, off, NULL, size);
    close(fd);
}

/* cp copies whole files, so it gets a source of exactly SIZE bytes. */
static void cp_file(struct ctx *c, uint64_t off, uint64_t size)
{
    int status;
    pid_t pid;

    (void)off;
    (void)size;
    pid = fork();
    check_errno(pid >= 0, "fork");
    if (pid == 0) {
        execlp("cp", "cp", c->dst_path, c->copy_path, (char *)NULL);
        _exit(127);
    }
    check_errno(waitpid(pid, &status, 0) == pid, "waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("cp", ZCIO_EIO);
}

/* The cfr group's destination doubles as cp's source, sized per cell. */
static void prepare_cp_source(struct ctx *c, uint64_t size)
{
    int64_t in = 0, out = 0;
    uint64_t n;

    check_errno(ftruncate(c->dst, 0) == 0, "ftruncate");
    check_zcio(zcio_copy_file_range(c->src, &in, c->dst, &out, size, &n),
               "zcio_copy_file_range");
    check_errno(fdatasync(c->dst) == 0, "fdatasync");
}

static const struct group groups[] = {
    { "sendfile", "file to /dev/null",
      { { "raw-sendfile", raw_sendfile }, { "zcio_sendfile", zc_sendfile },
        { "zcio_copy", zc_copy_null }, { "zcio_transfer", zc_transfer } } },
    { "splice", "file to pipe to /dev/null",
      { { "raw-splice", raw_splice }, { "zcio_splice", zc_splice } } },
    { "tee", "pipe to pipe, drained by splice",
      { { "raw-tee", raw_tee }, { "zcio_tee", zc_tee } } },
    { "cfr", "file to file, rewritten in place",
      { { "raw-copy_file_range", raw_cfr },
        { "zcio_copy_file_range", zc_cfr },
        { "zcio_copy", zc_copy_file } } },
    { "mapread", "mapping or file into a buffer",
      { { "memcpy", raw_memcpy }, { "zcio_map_read", zc_map_read },
        { "pread", raw_pread } } },
    { "filecopy", "whole copy into a new file (O_TRUNC)",
      { { "rw-64k", rw_file }, { "zcio_copy", zc_copy_new },
        { "cp", cp_file } } },
};

#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

/* --- timing ------------------------------------------------------------- */

struct sample {
    double ns;
    double cpu_ns;
    double nvcsw;
    double nivcsw;
};

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double tv_ns(struct timeval tv)
{
    return (double)tv.tv_sec * 1e9 + (double)tv.tv_usec * 1e3;
}

/* Self plus waited-for children: cp runs in a child. */
static void usage_now(double *cpu, double *nv, double *niv)
{
    struct rusage s, k;

    getrusage(RUSAGE_SELF, &s);
    getrusage(RUSAGE_CHILDREN, &k);
    *cpu = tv_ns(s.ru_utime) + tv_ns(s.ru_stime) + tv_ns(k.ru_utime) +
           tv_ns(k.ru_stime);
    *nv = (double)(s.ru_nvcsw + k.ru_nvcsw);
    *niv = (double)(s.ru_nivcsw + k.ru_nivcsw);
}

static uint64_t next_off(uint64_t size)
{
    uint64_t window = size > WINDOW ? size : WINDOW;
    uint64_t slots = window / size;

    return (g.op++ % slots) * size;
}

static struct sample run_batch(op_fn fn, uint64_t size, uint64_t iters)
{
    double t0, c0, v0, i0, c1, v1, i1;
    struct sample s;

    usage_now(&c0, &v0, &i0);
    t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++)
        fn(&g, next_off(size), size);
    s.ns = (now_ns() - t0) / (double)iters;
    usage_now(&c1, &v1, &i1);
    s.cpu_ns = (c1 - c0) / (double)iters;
    s.nvcsw = (v1 - v0) / (double)iters;
    s.nivcsw = (i1 - i0) / (double)iters;
    return s;
}

/* Doubles the batch until the baseline variant lasts at least min_ms. */
static uint64_t calibrate(op_fn fn, uint64_t size, double min_ms)
{
    uint64_t iters = 1;

    for (;;) {
        double t0 = now_ns();

        for (uint64_t i = 0; i < iters; i++)
            fn(&g, next_off(size), size);
        if (now_ns() - t0 >= min_ms * 1e6 || iters >= (1u << 24))
            return iters;
        iters *= 2;
    }
}

static void print_samples(const char *key, const struct sample *s,
                          unsigned n, size_t field)
{
    printf(",\"%s\":[", key);
    for (unsigned r = 0; r < n; r++) {
        const double *v = (const double *)((const char *)&s[r] + field);

        printf("%s%.3f", r ? "," : "", *v);
    }
    putchar(']');
}

static const char *mech_name(uint32_t m)
{
    static const char *names[] = { "none", "copy_file_range", "sendfile",
                                   "splice", "read_write" };

    return m < 5 ? names[m] : "unknown";
}

static void run_cell(const struct group *gr, uint64_t size, unsigned rounds,
                     double min_ms, bool *first)
{
    static struct sample s[MAX_VARIANTS][MAX_ROUNDS];
    uint32_t mech[MAX_VARIANTS] = { 0 };
    unsigned nv = 0;
    uint64_t iters;

    while (nv < MAX_VARIANTS && gr->v[nv].name != NULL)
        nv++;
    if (strcmp(gr->name, "filecopy") == 0)
        prepare_cp_source(&g, size);
    iters = calibrate(gr->v[0].fn, size, min_ms);
    for (unsigned r = 0; r < rounds; r++) {
        for (unsigned k = 0; k < nv; k++) {
            unsigned v = (r + k) % nv;

            g.copy_mech = 0;
            s[v][r] = run_batch(gr->v[v].fn, size, iters);
            mech[v] = g.copy_mech;
        }
    }
    for (unsigned v = 0; v < nv; v++) {
        printf("%s\n  {\"group\":\"%s\",\"what\":\"%s\",\"variant\":\"%s\","
               "\"baseline\":\"%s\",\"size\":%" PRIu64 ",\"ops\":%" PRIu64
               ",\"mechanism\":%s%s%s",
               *first ? "" : ",", gr->name, gr->what, gr->v[v].name,
               gr->v[0].name, size, iters, mech[v] ? "\"" : "",
               mech[v] ? mech_name(mech[v]) : "null", mech[v] ? "\"" : "");
        print_samples("ns_per_op", s[v], rounds,
                      offsetof(struct sample, ns));
        print_samples("cpu_ns_per_op", s[v], rounds,
                      offsetof(struct sample, cpu_ns));
        print_samples("nvcsw_per_op", s[v], rounds,
                      offsetof(struct sample, nvcsw));
        print_samples("nivcsw_per_op", s[v], rounds,
                      offsetof(struct sample, nivcsw));
        putchar('}');
        *first = false;
    }
    fflush(stdout);
}

/* --- setup -------------------------------------------------------------- */

static int make_file(char *path, const char *dir, const char *tag)
{
    int fd;

    snprintf(path, PATH_MAX, "%s/zcio-overhead-%s.XXXXXX", dir, tag);
    fd = mkostemp(path, O_CLOEXEC);
    check_errno(fd >= 0, "mkostemp");
    return fd;
}

static void fill_source(struct ctx *c)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;

    for (uint64_t off = 0; off < c->file_size; off += MIB) {
        for (size_t i = 0; i + 8 <= MIB; i += 8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            memcpy(c->buf + i, &x, 8);
        }
        write_all(c->src, c->buf, MIB);
    }
    check_errno(fdatasync(c->src) == 0, "fdatasync");
}

static void setup(const char *dir, uint64_t max_size)
{
    int rc;
    uint64_t filled;

    g.file_size = (max_size > WINDOW ? max_size : WINDOW) + MIB;
    g.file_size = (g.file_size + MIB - 1) / MIB * MIB;
    g.buf = malloc(g.file_size);
    check_errno(g.buf != NULL, "malloc");
    memset(g.buf, 0, g.file_size);
    g.src = make_file(g.src_path, dir, "src");
    g.dst = make_file(g.dst_path, dir, "dst");
    close(make_file(g.copy_path, dir, "copy"));
    fill_source(&g);
    g.null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    check_errno(g.null_fd >= 0, "open /dev/null");
    check_zcio(zcio_pipe_new(PIPE_HINT, 0, g.pa), "zcio_pipe_new");
    check_zcio(zcio_pipe_new(PIPE_HINT, 0, g.pb), "zcio_pipe_new");
    g.pipe_size = (uint64_t)fcntl(g.pa[0], F_GETPIPE_SZ);
    rc = zcio_map_open(g.src, 0, 0, ZCIO_MAP_POPULATE, &g.map);
    check_zcio(rc, "zcio_map_open");
    /* Pipe A stays full for the tee group. */
    rc = zcio_splice(g.src, &(int64_t){ 0 }, g.pa[1], NULL, g.pipe_size, 0,
                     &filled);
    check_zcio(rc, "filling pipe A");
}

static bool parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);

    if (end == s)
        return false;
    if (*end == 'K' || *end == 'k')
        v *= KIB, end++;
    else if (*end == 'M' || *end == 'm')
        v *= MIB, end++;
    else if (*end == 'G' || *end == 'g')
        v *= 1024 * MIB, end++;
    *out = v;
    return *end == '\0' && v > 0;
}

static _Noreturn void usage(void)
{
    fputs("Usage: " PROG " [--sizes LIST] [--rounds N] [--min-ms MS] "
          "[--dir DIR] [--groups LIST]\n"
          "Prints one JSON object with every round's samples.\n",
          stderr);
    exit(2);
}

static bool wanted(const char *list, const char *name)
{
    size_t len = strlen(name);

    for (const char *p = list; p != NULL && *p; p += strcspn(p, ",")) {
        p += *p == ',';
        if (strncmp(p, name, len) == 0 && (p[len] == ',' || p[len] == 0))
            return true;
    }
    return list == NULL;
}

int main(int argc, char **argv)
{
    const char *dir = "/tmp", *sizes = "4K,64K,1M,256M", *only = NULL;
    uint64_t size[MAX_SIZES], max_size = 0;
    unsigned rounds = 7, n_sizes = 0;
    double min_ms = 20;
    bool first = true;
    char *list, *tok;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (v == NULL)
            usage();
        if (strcmp(a, "--sizes") == 0)
            sizes = v;
        else if (strcmp(a, "--rounds") == 0)
            rounds = (unsigned)atoi(v);
        else if (strcmp(a, "--min-ms") == 0)
            min_ms = atof(v);
        else if (strcmp(a, "--dir") == 0)
            dir = v;
        else if (strcmp(a, "--groups") == 0)
            only = v;
        else
            usage();
        i++;
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || min_ms <= 0)
        usage();
    list = strdup(sizes);
    for (tok = strtok(list, ","); tok && n_sizes < MAX_SIZES;
         tok = strtok(NULL, ",")) {
        if (!parse_size(tok, &size[n_sizes]))
            usage();
        max_size = size[n_sizes] > max_size ? size[n_sizes] : max_size;
        n_sizes++;
    }
    signal(SIGPIPE, SIG_IGN);
    setup(dir, max_size);
    printf("{\"program\":\"" PROG "\",\"rounds\":%u,\"min_ms\":%.1f,"
           "\"pipe_bytes\":%" PRIu64 ",\"cells\":[",
           rounds, min_ms, g.pipe_size);
    for (size_t k = 0; k < N_GROUPS; k++) {
        for (unsigned i = 0; wanted(only, groups[k].name) && i < n_sizes;
             i++) {
            run_cell(&groups[k], size[i], rounds, min_ms, &first);
            fprintf(stderr, PROG ": %s %" PRIu64 " done\n", groups[k].name,
                    size[i]);
        }
    }
    printf("\n]}\n");
    unlink(g.src_path);
    unlink(g.dst_path);
    unlink(g.copy_path);
    zcio_map_close(g.map);
    return 0;
}
