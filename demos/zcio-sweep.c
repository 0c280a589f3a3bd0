/*
 * zcio-sweep: time single copy calls from 512 bytes to 1 MiB, file to file
 * and file to loopback TCP, with the raw system calls and with zcio_copy,
 * to choose zcio_copy's read_write_below thresholds from measurements.
 *
 * What makes the comparison fair, and what it deliberately leaves out:
 * - Every method copies the same bytes: the source is one file, written,
 *   synced and read once before timing, so every call reads from the page
 *   cache. Calls walk through a 16 MiB window of it at positional offsets
 *   and start over at its end, so no method profits from reading the same
 *   few cache lines again and again (the read/write buffer itself stays
 *   hot, as it would in a real program).
 * - File to file, each call writes at the same offset it read from, into
 *   a destination file of the same 16 MiB that is rewritten in place: the
 *   file never grows, its pages are already in the page cache and already
 *   dirty, so no call pays for allocating blocks or pages and the numbers
 *   are the copy itself. The destination is synced before each size, so
 *   writeback of old data never lands inside a timed cell. sendfile(2)
 *   cannot write at an offset; it writes at the file position, which walks
 *   the window the same way and is moved back once per pass over it (one
 *   lseek per 16 MiB, counted in its time).
 * - File to TCP, a forked receiver drains the connection by splicing it to
 *   /dev/null and only counts bytes, so the figures are the sender's cost,
 *   not how fast a receiver can copy and checksum (zcio-bench measures
 *   that, and verifies every byte). TCP_NODELAY and cubic congestion
 *   control are set as in zcio-bench, so small writes are not held back
 *   by Nagle's algorithm waiting for delayed ACKs.
 * - Calls are timed in batches that last about 1 ms, so the clock costs
 *   nothing per call; the figure is the median over batches of the time
 *   per call. Each size runs in three passes with the methods interleaved,
 *   so drift in the machine's speed spreads over all methods.
 * - Raw read/write goes through a 256 KiB buffer, the size of the buffers
 *   zcio_copy's read/write path leases, so the two differ only by what the
 *   library adds. zcio_copy is called the way a program would: once per
 *   copy, with positional offsets, its options filled in and its result
 *   checked. zcio-sf (zcio_sendfile against raw sendfile) isolates the
 *   cost of the library's argument checks and SIGPIPE guard.
 * - Other work on the machine moves single cells either way; the sweep
 *   reports how many CPUs' worth of it ran and warns above 0.1.
 *
 * Every copy is checked: file to file, the destination range written is
 * compared with the source after every pass (having been zeroed before
 * it); file to TCP, the receiver's byte count must equal what was sent.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zcio.h>

#define PROG "zcio-sweep"
#define KIB 1024u
#define MIB (1024u * 1024u)
#define WINDOW (16u * MIB)
#define MAX_LEN MIB
/* The read/write buffer: the size of zcio's pooled buffers, so that raw
 * read/write and zcio_copy's read/write path differ only by the library. */
#define RW_BUF (256u * KIB)
#define DEFAULT_CELL_SECONDS 0.2
#define PASSES 3u
#define BATCH_TARGET_NS 1e6
#define MAX_BATCH 65536u
#define MAX_SAMPLES 2048u
#define EXIT_USAGE 2
#define DATA_SEED 0x7a63696f73776570ull
#define THRESHOLD_SIZE 4096u

/* read_write_below values that force each of zcio_copy's paths. */
#define ZCIO_FORCE_ZERO_COPY 1u
#define ZCIO_FORCE_READ_WRITE UINT64_MAX

static const size_t sizes[] = { 512,       1 * KIB,   4 * KIB, 16 * KIB,
                                64 * KIB, 256 * KIB, MIB };

#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

enum pair { TO_FILE, TO_TCP, N_PAIRS };

enum method_id {
    F_CFR,
    F_SENDFILE,
    F_RW,
    F_ZCIO_ZC,
    F_ZCIO_RW,
    F_ZCIO,
    T_SENDFILE,
    T_RW,
    T_ZCIO_SENDFILE,
    T_ZCIO_RW,
    T_ZCIO,
    N_METHODS
};

struct sweep;

/* One copy of len bytes from source offset off: 0 or an errno. */
typedef int (*copy_fn)(struct sweep *s, int m, uint64_t off, size_t len);

/* read_write_below is what zcio methods pass in zcio_copy_opts. */
struct method {
    const char *name;
    enum pair pair;
    copy_fn copy;
    uint64_t read_write_below;
};

/* mechanism and fell_back: what zcio_copy reported, for zcio_copy cells. */
struct cell {
    bool unsupported;
    bool fell_back;
    uint32_t mechanism;
    uint64_t calls;
    unsigned n;
    double ns[MAX_SAMPLES];
    double median_ns;
};

/* Where a pass is: the next offset, the end of what it wrote, the bytes. */
struct run {
    uint64_t off;
    uint64_t hi;
    uint64_t bytes;
};

struct options {
    const char *dir;
    double cell_seconds;
    unsigned reps;
    bool json;
};

struct sweep {
    int src;
    int dst;
    int sock;
    unsigned char *buf;
    unsigned char *check;
    uint64_t dirty_hi;
    double pass_ns;
    unsigned reps;
    unsigned passes;
    const char *dir;
    char fs[32];
    char what[64];
    double other_cpus;
    struct cell *cell;
    struct cell cells[N_METHODS][N_SIZES];
};

/* Per pair: the raw zero-copy call, raw read/write, and zcio's paths. */
struct pair_info {
    const char *name;
    const char *title;
    int zero_copy;
    int read_write;
    int zcio_zero_copy;
    int zcio_read_write;
    int zcio;
};

static int copy_cfr(struct sweep *s, int m, uint64_t off, size_t len);
static int copy_sendfile_file(struct sweep *s, int m, uint64_t off,
                              size_t len);
static int copy_rw_file(struct sweep *s, int m, uint64_t off, size_t len);
static int copy_zcio_file(struct sweep *s, int m, uint64_t off, size_t len);
static int copy_sendfile_tcp(struct sweep *s, int m, uint64_t off,
                             size_t len);
static int copy_rw_tcp(struct sweep *s, int m, uint64_t off, size_t len);
static int copy_zcio_sendfile(struct sweep *s, int m, uint64_t off,
                              size_t len);
static int copy_zcio_tcp(struct sweep *s, int m, uint64_t off, size_t len);

static const struct method methods[N_METHODS] = {
    [F_CFR] = { "cfr", TO_FILE, copy_cfr, 0 },
    [F_SENDFILE] = { "sendfile", TO_FILE, copy_sendfile_file, 0 },
    [F_RW] = { "rw", TO_FILE, copy_rw_file, 0 },
    [F_ZCIO_ZC] = { "zcio-zc", TO_FILE, copy_zcio_file,
                    ZCIO_FORCE_ZERO_COPY },
    [F_ZCIO_RW] = { "zcio-rw", TO_FILE, copy_zcio_file,
                    ZCIO_FORCE_READ_WRITE },
    [F_ZCIO] = { "zcio", TO_FILE, copy_zcio_file, 0 },
    [T_SENDFILE] = { "sendfile", TO_TCP, copy_sendfile_tcp, 0 },
    [T_RW] = { "rw", TO_TCP, copy_rw_tcp, 0 },
    [T_ZCIO_SENDFILE] = { "zcio-sf", TO_TCP, copy_zcio_sendfile, 0 },
    [T_ZCIO_RW] = { "zcio-rw", TO_TCP, copy_zcio_tcp,
                    ZCIO_FORCE_READ_WRITE },
    [T_ZCIO] = { "zcio", TO_TCP, copy_zcio_tcp, 0 },
};

static const struct pair_info pairs[N_PAIRS] = {
    [TO_FILE] = { "file-file", "file -> file", F_CFR, F_RW, F_ZCIO_ZC,
                  F_ZCIO_RW, F_ZCIO },
    [TO_TCP] = { "file-tcp", "file -> TCP", T_SENDFILE, T_RW, T_ZCIO,
                 T_ZCIO_RW, T_ZCIO },
};

/* Read only outside signal handlers; 0 when no receiver runs. */
static pid_t receiver_pid;

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static void vlog(const char *fmt, va_list ap)
{
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void log_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static void stop_receiver(void)
{
    if (receiver_pid <= 0)
        return;
    kill(receiver_pid, SIGKILL);
    while (waitpid(receiver_pid, NULL, 0) < 0 && errno == EINTR)
        continue;
    receiver_pid = 0;
}

static _Noreturn void fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    stop_receiver();
    exit(1);
}

static _Noreturn void fail_sys(const char *ctx, const char *call)
{
    fail("%s: %s: %s", ctx, call, strerror(errno));
}

static _Noreturn void usage_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    fputs("Try '" PROG " --help' for more information.\n", stderr);
    exit(EXIT_USAGE);
}

static void usage(void)
{
    fputs("Usage: " PROG " [OPTION]...\n"
          "Time single copy calls of 512 bytes to 1 MiB, file to file and\n"
          "file to loopback TCP, with raw system calls and with zcio_copy,\n"
          "and suggest zcio_copy's read_write_below thresholds.\n"
          "\n"
          "  -d, --dir=DIR       directory for the two scratch files\n"
          "                      (default $TMPDIR, else /tmp); both are\n"
          "                      unlinked at once\n"
          "  -t, --time=SECONDS  time per method and size, split over 3\n"
          "                      interleaved passes (default 0.2)\n"
          "  -n, --reps=N        instead, N single timed calls per method\n"
          "                      and size in one pass (a quick smoke test)\n"
          "  -j, --json          print the results as one JSON object\n"
          "  -h, --help          print this help and exit\n"
          "\n"
          "File to file: cfr = copy_file_range(2), sendfile = sendfile(2),\n"
          "rw = pread/pwrite through a 256 KiB buffer; zcio-zc, zcio-rw and\n"
          "zcio call zcio_copy with read_write_below 1 (zero-copy), maximal\n"
          "(read/write) and 0 (the library's default). File to TCP:\n"
          "sendfile, rw = pread/write, zcio-sf = zcio_sendfile, zcio-rw and\n"
          "zcio. Exit status: 0 on success, 1 on any failure or mismatch,\n"
          "2 on a usage error.\n",
          stdout);
}

static bool parse_seconds(const char *arg, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(arg, &end);
    if (errno != 0 || end == arg || *end != '\0' || !(v > 0) || v > 60)
        return false;
    *out = v;
    return true;
}

static bool parse_reps(const char *arg, unsigned *out)
{
    unsigned long v;
    char *end;

    if (*arg < '0' || *arg > '9')
        return false;
    errno = 0;
    v = strtoul(arg, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > MAX_SAMPLES)
        return false;
    *out = (unsigned)v;
    return true;
}

static void apply_option(struct options *opt, int c, const char *arg)
{
    switch (c) {
    case 'd':
        opt->dir = arg;
        break;
    case 't':
        if (!parse_seconds(arg, &opt->cell_seconds))
            usage_error("invalid --time '%s': expected seconds, more "
                        "than 0 and at most 60",
                        arg);
        break;
    case 'n':
        if (!parse_reps(arg, &opt->reps))
            usage_error("invalid --reps '%s': expected a whole number "
                        "from 1 to %u",
                        arg, MAX_SAMPLES);
        break;
    case 'j':
        opt->json = true;
        break;
    case 'h':
        usage();
        exit(0);
    default:
        usage_error("unknown option");
    }
}

static void parse_options(int argc, char **argv, struct options *opt)
{
    static const struct option longopts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "time", required_argument, NULL, 't' },
        { "reps", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *tmpdir = getenv("TMPDIR");
    struct stat st;
    int c;

    *opt = (struct options){ .cell_seconds = DEFAULT_CELL_SECONDS };
    argv[0] = (char *)PROG;
    while ((c = getopt_long(argc, argv, "d:t:n:jh", longopts, NULL)) >= 0)
        apply_option(opt, c, optarg);
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (opt->dir == NULL)
        opt->dir = tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp";
    if (stat(opt->dir, &st) < 0 || !S_ISDIR(st.st_mode))
        usage_error("%s: not a usable directory", opt->dir);
}

/* --- Setup ------------------------------------------------------------- */

static int write_full(int fd, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = write(fd, (const char *)buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static int read_full(int fd, void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = read(fd, (char *)buf + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

static void pread_full(int fd, void *buf, size_t len, uint64_t off,
                       const char *what)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done,
                          (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_sys(what, "pread");
        if (n == 0)
            fail("%s: the file ended at %" PRIu64, what, off + done);
        done += (size_t)n;
    }
}

static void pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
                        const char *what)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
                           (off_t)(off + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail_sys(what, "pwrite");
        done += (size_t)n;
    }
}

/* Created and unlinked at once, as zcio-bench does: nothing to clean up. */
static int scratch_file(const char *dir)
{
    char path[PATH_MAX];
    int fd;

    if (snprintf(path, sizeof(path), "%s/" PROG ".XXXXXX", dir) >=
        (int)sizeof(path))
        usage_error("--dir %s: path too long", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        fail("cannot create a file in %s: %s", dir, strerror(errno));
    if (unlink(path) < 0)
        fail_sys(path, "unlink");
    return fd;
}

/* splitmix64: fast, a few lines, and its output does not compress. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/*
 * The source gets random bytes, the destination zeros; both are synced so
 * that writeback is done before timing, and the source is read back once
 * so that it is in the page cache.
 */
static void fill_files(struct sweep *s)
{
    uint64_t state = DATA_SEED;

    for (uint64_t off = 0; off < WINDOW; off += MAX_LEN) {
        for (size_t i = 0; i < MAX_LEN; i += sizeof(uint64_t)) {
            uint64_t v = splitmix64(&state);

            memcpy(s->buf + i, &v, sizeof(v));
        }
        pwrite_full(s->src, s->buf, MAX_LEN, off, "the source");
        memset(s->check, 0, MAX_LEN);
        pwrite_full(s->dst, s->check, MAX_LEN, off, "the destination");
    }
    if (fdatasync(s->src) < 0 || fdatasync(s->dst) < 0)
        fail_sys("the scratch files", "fdatasync");
    for (uint64_t off = 0; off < WINDOW; off += MAX_LEN)
        pread_full(s->src, s->buf, MAX_LEN, off, "the source");
}

static void describe_fs(struct sweep *s)
{
    struct statfs st;

    if (fstatfs(s->dst, &st) < 0)
        fail_sys(s->dir, "fstatfs");
    switch ((unsigned long)st.f_type) {
    case EXT4_SUPER_MAGIC:
        snprintf(s->fs, sizeof(s->fs), "ext4");
        break;
    case XFS_SUPER_MAGIC:
        snprintf(s->fs, sizeof(s->fs), "xfs");
        break;
    case BTRFS_SUPER_MAGIC:
        snprintf(s->fs, sizeof(s->fs), "btrfs");
        break;
    case TMPFS_MAGIC:
        snprintf(s->fs, sizeof(s->fs), "tmpfs");
        break;
    default:
        snprintf(s->fs, sizeof(s->fs), "fs 0x%lx",
                 (unsigned long)st.f_type);
    }
}

/* --- The receiver ------------------------------------------------------ */

/*
 * The sender announces each batch with its byte count; a count of 0 asks
 * for the total received since the last such request.
 */
static void drain(int sock, int pipe_fds[2], int null_fd, uint64_t bytes)
{
    while (bytes > 0) {
        ssize_t n = splice(sock, NULL, pipe_fds[1], NULL,
                           min_u64(bytes, MIB), SPLICE_F_MOVE);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(1);
        bytes -= (uint64_t)n;
        while (n > 0) {
            ssize_t out = splice(pipe_fds[0], NULL, null_fd, NULL,
                                 (size_t)n, SPLICE_F_MOVE);

            if (out < 0 && errno == EINTR)
                continue;
            if (out <= 0)
                _exit(1);
            n -= out;
        }
    }
}

static _Noreturn void receiver_main(int sock)
{
    int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    int pipe_fds[2];
    uint64_t bytes, total = 0;

    if (null_fd < 0 || pipe2(pipe_fds, O_CLOEXEC) < 0) {
        fprintf(stderr, PROG ": receiver: %s\n", strerror(errno));
        _exit(1);
    }
    fcntl(pipe_fds[1], F_SETPIPE_SZ, (int)MIB);
    while (read_full(sock, &bytes, sizeof(bytes)) == 0) {
        if (bytes == 0) {
            if (write_full(sock, &total, sizeof(total)) < 0)
                _exit(1);
            total = 0;
            continue;
        }
        drain(sock, pipe_fds, null_fd, bytes);
        total += bytes;
    }
    _exit(0);
}

static void tune_socket(int sock)
{
    static const char cubic[] = "cubic";
    int one = 1;

    /* As in zcio-bench; a kernel without cubic keeps its default. */
    setsockopt(sock, IPPROTO_TCP, TCP_CONGESTION, cubic, sizeof(cubic) - 1);
    if (setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        fail_sys("setup", "setsockopt TCP_NODELAY");
}

/* Connects over loopback and forks the receiver onto the far end. */
static void start_receiver(struct sweep *s)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof(addr);
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int peer;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->sock = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0 || s->sock < 0 ||
        bind(listener, (struct sockaddr *)&addr, len) < 0 ||
        listen(listener, 1) < 0 ||
        getsockname(listener, (struct sockaddr *)&addr, &len) < 0 ||
        connect(s->sock, (struct sockaddr *)&addr, len) < 0 ||
        (peer = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
        fail_sys("setup", "connecting over 127.0.0.1");
    close(listener);
    tune_socket(s->sock);
    tune_socket(peer);
    fflush(NULL);
    receiver_pid = fork();
    if (receiver_pid < 0)
        fail_sys("setup", "fork");
    if (receiver_pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
            _exit(1);
        close(s->sock);
        receiver_main(peer);
    }
    close(peer);
}

static void finish_receiver(struct sweep *s)
{
    int status;

    close(s->sock);
    while (waitpid(receiver_pid, &status, 0) < 0) {
        if (errno != EINTR)
            fail_sys("teardown", "waitpid");
    }
    receiver_pid = 0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail("the receiver failed (status 0x%x)", status);
}

/* --- The copies -------------------------------------------------------- */

static int copy_cfr(struct sweep *s, int m, uint64_t off, size_t len)
{
    loff_t in = (loff_t)off, out = (loff_t)off;

    (void)m;
    while (len > 0) {
        ssize_t n = copy_file_range(s->src, &in, s->dst, &out, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        len -= (size_t)n;
    }
    return 0;
}

/* The destination's position walks the window; see the top comment. */
static int copy_sendfile_file(struct sweep *s, int m, uint64_t off,
                              size_t len)
{
    off_t in = (off_t)off;

    (void)m;
    if (off == 0 && lseek(s->dst, 0, SEEK_SET) < 0)
        return errno;
    while (len > 0) {
        ssize_t n = sendfile(s->dst, s->src, &in, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes all of buf: at *out_off, which advances, or with NULL to the
 * stream. */
static int write_out(int fd, const unsigned char *buf, size_t len,
                     int64_t *out_off)
{
    while (len > 0) {
        ssize_t n = out_off != NULL ? pwrite(fd, buf, len, *out_off)
                                    : write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        buf += n;
        len -= (size_t)n;
        if (out_off != NULL)
            *out_off += n;
    }
    return 0;
}

/* The read/write loop a program would write, through one buffer. */
static int copy_rw(struct sweep *s, int out_fd, int64_t *out_off,
                   uint64_t off, size_t len)
{
    while (len > 0) {
        ssize_t n = pread(s->src, s->buf, min_u64(len, RW_BUF), (off_t)off);
        int err;

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        err = write_out(out_fd, s->buf, (size_t)n, out_off);
        if (err != 0)
            return err;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int copy_rw_file(struct sweep *s, int m, uint64_t off, size_t len)
{
    int64_t out_at = (int64_t)off;

    (void)m;
    return copy_rw(s, s->dst, &out_at, off, len);
}

/*
 * One zcio_copy call as a program would make it, options filled in and
 * the result checked; what it chose is kept for the table.
 */
static int zcio_copy_at(struct sweep *s, int m, int out_fd, int64_t *out_at,
                        uint64_t off, size_t len)
{
    int64_t in_at = (int64_t)off;
    zcio_copy_opts opts = { .size = sizeof(opts),
                            .in_offset = &in_at,
                            .out_offset = out_at,
                            .read_write_below = methods[m].read_write_below };
    zcio_copy_result res = { .size = sizeof(res) };
    int rc = zcio_copy(out_fd, s->src, len, &opts, &res);

    if (rc != ZCIO_OK)
        fail("%s: zcio_copy after %" PRIu64 " bytes: %s", s->what,
             res.moved, zcio_strerror(rc));
    if (res.moved != len)
        fail("%s: zcio_copy moved %" PRIu64 " bytes, not %zu", s->what,
             res.moved, len);
    s->cell->mechanism = res.mechanism;
    s->cell->fell_back |= res.fallback_from != ZCIO_MECH_NONE;
    return 0;
}

static int copy_zcio_file(struct sweep *s, int m, uint64_t off, size_t len)
{
    int64_t out_at = (int64_t)off;

    return zcio_copy_at(s, m, s->dst, &out_at, off, len);
}

static int copy_sendfile_tcp(struct sweep *s, int m, uint64_t off,
                             size_t len)
{
    off_t in = (off_t)off;

    (void)m;
    while (len > 0) {
        ssize_t n = sendfile(s->sock, s->src, &in, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        len -= (size_t)n;
    }
    return 0;
}

static int copy_rw_tcp(struct sweep *s, int m, uint64_t off, size_t len)
{
    (void)m;
    return copy_rw(s, s->sock, NULL, off, len);
}

/*
 * zcio_sendfile: the same system call as sendfile plus the library's
 * argument checks and SIGPIPE guard, which is what this measures.
 */
static int copy_zcio_sendfile(struct sweep *s, int m, uint64_t off,
                              size_t len)
{
    int64_t in_at = (int64_t)off;
    uint64_t sent = 0;
    int rc = zcio_sendfile(s->sock, s->src, &in_at, len, &sent);

    (void)m;
    if (rc != ZCIO_OK)
        fail("%s: zcio_sendfile after %" PRIu64 " bytes: %s", s->what, sent,
             zcio_strerror(rc));
    return 0;
}

static int copy_zcio_tcp(struct sweep *s, int m, uint64_t off, size_t len)
{
    return zcio_copy_at(s, m, s->sock, NULL, off, len);
}

/* --- Timing ------------------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Tells the receiver how many bytes follow; 0 asks for its count. */
static void announce(struct sweep *s, uint64_t bytes)
{
    if (write_full(s->sock, &bytes, sizeof(bytes)) < 0)
        fail_sys(s->what, "writing to the receiver");
}

static bool is_unsupported(int err)
{
    return err == EINVAL || err == EXDEV || err == EOPNOTSUPP ||
           err == ENOSYS;
}

/*
 * Makes count copies, walking the window. False if the very first copy of
 * the pass found that the kernel cannot do it here (copy_file_range
 * between filesystems, say); any other failure ends the program.
 */
static bool copies(struct sweep *s, int m, size_t len, struct run *r,
                   unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        int err = methods[m].copy(s, m, r->off, len);

        errno = err;
        if (err != 0 && r->bytes == 0 && methods[m].pair == TO_FILE &&
            is_unsupported(err))
            return false;
        if (err != 0)
            fail_sys(s->what, "copying");
        r->bytes += len;
        r->hi = r->off + len > r->hi ? r->off + len : r->hi;
        r->off = r->off + 2 * len > WINDOW ? 0 : r->off + len;
    }
    return true;
}

/* The time count copies take; negative if the copy is unsupported. */
static double timed_batch(struct sweep *s, int m, size_t len, struct run *r,
                          unsigned count)
{
    double t0;

    if (methods[m].pair == TO_TCP)
        announce(s, (uint64_t)count * len);
    t0 = now_ns();
    if (!copies(s, m, len, r, count))
        return -1;
    return now_ns() - t0;
}

/* Zeroes what the last pass wrote, so this pass must write it again. */
static void zero_destination(struct sweep *s)
{
    memset(s->check, 0, MAX_LEN);
    for (uint64_t off = 0; off < s->dirty_hi; off += MAX_LEN)
        pwrite_full(s->dst, s->check, min_u64(MAX_LEN, s->dirty_hi - off),
                    off, "zeroing the destination");
    s->dirty_hi = 0;
}

static void check_destination(struct sweep *s, uint64_t hi)
{
    s->dirty_hi = hi;
    for (uint64_t off = 0; off < hi; off += MAX_LEN) {
        size_t len = min_u64(MAX_LEN, hi - off);

        pread_full(s->src, s->buf, len, off, "the source");
        pread_full(s->dst, s->check, len, off, "the destination");
        if (memcmp(s->buf, s->check, len) != 0)
            fail("%s: the destination differs from the source in bytes "
                 "%" PRIu64 " to %" PRIu64,
                 s->what, off, off + len);
    }
}

static void check_received(struct sweep *s, uint64_t sent)
{
    uint64_t got;

    announce(s, 0);
    if (read_full(s->sock, &got, sizeof(got)) < 0)
        fail("%s: no count from the receiver", s->what);
    if (got != sent)
        fail("%s: the receiver got %" PRIu64 " bytes, %" PRIu64 " were sent",
             s->what, got, sent);
}

static void begin_pass(struct sweep *s, int m, unsigned z, struct run *r)
{
    *r = (struct run){ 0 };
    s->cell = &s->cells[m][z];
    snprintf(s->what, sizeof(s->what), "%s %s, %zu bytes",
             pairs[methods[m].pair].name, methods[m].name, sizes[z]);
    if (methods[m].pair == TO_FILE)
        zero_destination(s);
}

static void end_pass(struct sweep *s, int m, const struct run *r,
                     size_t len)
{
    if (methods[m].pair == TO_FILE)
        check_destination(s, r->hi);
    else
        check_received(s, r->bytes);
    s->cell->calls += r->bytes / len;
}

/*
 * One pass of one method at one size: an untimed warm-up that doubles the
 * batch until it lasts about 1 ms, then timed batches until the pass's
 * time is up (or, with --reps, that many single calls).
 */
static void run_pass(struct sweep *s, int m, unsigned z)
{
    struct cell *c = &s->cells[m][z];
    size_t len = sizes[z];
    unsigned count = 1;
    struct run r;
    double start, ns;

    if (c->unsupported)
        return;
    begin_pass(s, m, z, &r);
    ns = timed_batch(s, m, len, &r, count);
    if (ns < 0) {
        log_msg("%s: not supported here (%s); left out", s->what,
                strerror(errno));
        c->unsupported = true;
        return;
    }
    while (s->reps == 0 && ns < BATCH_TARGET_NS && count < MAX_BATCH) {
        count *= 2;
        ns = timed_batch(s, m, len, &r, count);
    }
    start = now_ns();
    do {
        c->ns[c->n++] = timed_batch(s, m, len, &r, count) / count;
    } while (c->n < MAX_SAMPLES &&
             (s->reps > 0 ? c->n < s->reps : now_ns() - start < s->pass_ns));
    end_pass(s, m, &r, len);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void compute_medians(struct sweep *s)
{
    for (int m = 0; m < N_METHODS; m++) {
        for (unsigned z = 0; z < N_SIZES; z++) {
            struct cell *c = &s->cells[m][z];

            c->median_ns = NAN;
            if (c->unsupported || c->n == 0)
                continue;
            qsort(c->ns, c->n, sizeof(c->ns[0]), cmp_double);
            c->median_ns = c->n % 2 ? c->ns[c->n / 2]
                                    : (c->ns[c->n / 2 - 1] +
                                       c->ns[c->n / 2]) / 2;
        }
    }
}

/* Seconds of CPU time from /proc/stat or /proc/PID/stat fields. */
static double ticks_s(unsigned long long ticks)
{
    long hz = sysconf(_SC_CLK_TCK);

    return hz > 0 ? (double)ticks / (double)hz : NAN;
}

/* Busy CPU time of the whole machine: user, nice, system, irq, softirq. */
static double machine_busy_s(void)
{
    unsigned long long v[7];
    FILE *f = fopen("/proc/stat", "re");
    int n = f != NULL ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu",
                               &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                               &v[6])
                      : 0;

    if (f != NULL)
        fclose(f);
    return n == 7 ? ticks_s(v[0] + v[1] + v[2] + v[5] + v[6]) : NAN;
}

/* The receiver's CPU time: utime and stime, fields 14 and 15. */
static double receiver_s(void)
{
    unsigned long long utime, stime;
    char path[64], line[1024];
    FILE *f;
    char *p;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)receiver_pid);
    f = fopen(path, "re");
    p = f != NULL ? fgets(line, sizeof(line), f) : NULL;
    if (f != NULL)
        fclose(f);
    /* The command name may hold spaces; the fields start after its ')'. */
    p = p != NULL ? strrchr(line, ')') : NULL;
    if (p == NULL || sscanf(p, ") %*c %*d %*d %*d %*d %*d %*u %*u %*u "
                               "%*u %*u %llu %llu",
                            &utime, &stime) != 2)
        return NAN;
    return ticks_s(utime + stime);
}

static double own_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * How many CPUs' worth of other work ran during the sweep: the machine's
 * busy time minus the sweep's and its receiver's. A busy neighbour makes
 * single cells wrong in either direction, so it is reported and warned of.
 */
static void judge_machine(struct sweep *s, const double before[3],
                          double wall_ns)
{
    double busy = machine_busy_s() - before[0];
    double ours = own_s() - before[1] + receiver_s() - before[2];

    /* /proc/stat counts in ticks of 10 ms: too coarse for a short run. */
    s->other_cpus = wall_ns >= 1e9 ? (busy - ours) / (wall_ns / 1e9) : NAN;
    if (s->other_cpus > 0.1)
        log_msg("warning: other work used %.2f CPUs during the sweep; the "
                "figures are disturbed",
                s->other_cpus);
}

/*
 * Sizes in the outer loop, so a size's passes run close together in time;
 * each pass starts one method further on, so no method always runs first
 * or always right after the same other one.
 */
static void run_sweep(struct sweep *s)
{
    double before[3] = { machine_busy_s(), own_s(), receiver_s() };
    double start = now_ns();

    for (unsigned z = 0; z < N_SIZES; z++) {
        if (fdatasync(s->dst) < 0)
            fail_sys("the destination", "fdatasync");
        for (unsigned p = 0; p < s->passes; p++) {
            for (unsigned i = 0; i < N_METHODS; i++)
                run_pass(s, (int)((p + i) % N_METHODS), z);
        }
        log_msg("%zu bytes done", sizes[z]);
    }
    judge_machine(s, before, now_ns() - start);
    compute_medians(s);
}

/* --- Reports ----------------------------------------------------------- */

static const char *mech_name(uint32_t mech)
{
    switch (mech) {
    case ZCIO_MECH_COPY_FILE_RANGE:
        return "copy_file_range";
    case ZCIO_MECH_SENDFILE:
        return "sendfile";
    case ZCIO_MECH_SPLICE:
        return "splice";
    case ZCIO_MECH_READ_WRITE:
        return "read_write";
    default:
        return "none";
    }
}

/* 4096 prints as 4K, 1048576 as 1M. */
static const char *size_name(uint64_t bytes, char *out, size_t len)
{
    if (bytes >= MIB && bytes % MIB == 0)
        snprintf(out, len, "%" PRIu64 "M", bytes / MIB);
    else if (bytes >= KIB && bytes % KIB == 0)
        snprintf(out, len, "%" PRIu64 "K", bytes / KIB);
    else
        snprintf(out, len, "%" PRIu64, bytes);
    return out;
}

static double mb_per_s(double ns, size_t len)
{
    return (double)len / ns * 1e3;
}

static double median_of(const struct sweep *s, int m, unsigned z)
{
    return s->cells[m][z].median_ns;
}

/*
 * Medians closer than this are a tie: runs on this kind of machine move
 * single cells by about as much.
 */
#define TIE_PCT 2.0

/* zero-copy (zc) is not measurably slower than read/write (rw) at size z. */
static bool zc_keeps_up(const struct sweep *s, int zc, int rw, unsigned z)
{
    return median_of(s, zc, z) <= median_of(s, rw, z) * (1 + TIE_PCT / 100);
}

/*
 * The threshold is there for small copies, where a zero-copy call's setup
 * costs more than copying through user space: read_write_below should be
 * the smallest size from which zero-copy keeps up. Returns its index in
 * sizes (0: zero-copy from the smallest size), N_SIZES if it never does.
 */
static unsigned first_cut(const struct sweep *s, int zc, int rw)
{
    unsigned z = 0;

    while (z < N_SIZES && !zc_keeps_up(s, zc, rw, z))
        z++;
    return z;
}

/*
 * Where zero-copy falls behind again above the threshold (copy_file_range
 * without reflinks is a kernel-side copy, and can lose to read/write at
 * large sizes): no threshold can fix that, so it is only reported.
 * Returns N_SIZES if it never does.
 */
static unsigned falls_behind(const struct sweep *s, int zc, int rw,
                             unsigned cut)
{
    unsigned z = cut;

    while (z < N_SIZES && zc_keeps_up(s, zc, rw, z))
        z++;
    return z;
}

/* The cut the library's default made: the first size it copied with
 * zero-copy from on, or N_SIZES. */
static unsigned default_cut(const struct sweep *s, int zcio)
{
    unsigned cut = N_SIZES;

    while (cut > 0 &&
           s->cells[zcio][cut - 1].mechanism != ZCIO_MECH_READ_WRITE)
        cut--;
    return cut;
}

/* The read_write_below value a cut stands for; UINT64_MAX for "never". */
static uint64_t cut_bytes(unsigned cut)
{
    if (cut == N_SIZES)
        return UINT64_MAX;
    return cut == 0 ? 0 : sizes[cut];
}

static const char *threshold_name(unsigned cut, char *out, size_t len)
{
    if (cut == N_SIZES)
        return "none (read/write up to 1M)";
    if (cut == 0)
        return "0 (zero-copy from 512)";
    return size_name(sizes[cut], out, len);
}

static unsigned size_index(size_t len)
{
    unsigned z = 0;

    while (sizes[z] != len)
        z++;
    return z;
}

static void print_cell(double v, const char *fmt)
{
    if (isfinite(v))
        printf(fmt, v);
    else
        printf(" %9s", "-");
}

/*
 * One block per pair: a row per size, a column per method. The ns block
 * adds the ratios a threshold is read from: raw zero-copy over raw
 * read/write, and zcio_copy's default over raw read/write.
 */
static void print_block(const struct sweep *s, enum pair p, bool rate)
{
    const struct pair_info *pi = &pairs[p];
    char name[24];

    printf("\n%s, %s\n%6s", pi->title,
           rate ? "MB/s" : "median ns per call", "size");
    for (int m = 0; m < N_METHODS; m++) {
        if (methods[m].pair == p)
            printf(" %9s", methods[m].name);
    }
    if (!rate)
        printf(" %6s %7s  %s", "zc/rw", "zcio/rw", "zcio chose");
    putchar('\n');
    for (unsigned z = 0; z < N_SIZES; z++) {
        double rw = median_of(s, pi->read_write, z);

        printf("%6s", size_name(sizes[z], name, sizeof(name)));
        for (int m = 0; m < N_METHODS; m++) {
            double ns = median_of(s, m, z);

            if (methods[m].pair == p)
                print_cell(rate ? mb_per_s(ns, sizes[z]) : ns, " %9.0f");
        }
        if (!rate)
            printf(" %6.2f %7.2f  %s", median_of(s, pi->zero_copy, z) / rw,
                   median_of(s, pi->zcio, z) / rw,
                   mech_name(s->cells[pi->zcio][z].mechanism));
        putchar('\n');
    }
}

/* The claim to prove: at 4 KiB zcio_copy is never slower than read/write. */
static void print_4k_verdict(const struct sweep *s)
{
    unsigned z = size_index(THRESHOLD_SIZE);

    printf("\nat 4K, zcio_copy with its defaults vs raw read/write:\n");
    for (int p = 0; p < N_PAIRS; p++) {
        double zcio = median_of(s, pairs[p].zcio, z);
        double rw = median_of(s, pairs[p].read_write, z);

        printf("  %-13s %7.0f ns vs %7.0f ns: %+.1f%%  %s\n",
               pairs[p].title, zcio, rw, (zcio / rw - 1) * 100,
               zcio <= rw ? "not slower" : "SLOWER");
    }
}

static void print_cut(const struct sweep *s, const char *what, int zc,
                      int rw)
{
    unsigned cut = first_cut(s, zc, rw);
    unsigned behind = falls_behind(s, zc, rw, cut);
    char a[24], b[24];

    printf("    %-20s %s", what, threshold_name(cut, a, sizeof(a)));
    if (behind < N_SIZES)
        printf("; zero-copy falls behind again at %s (%.2fx)",
               size_name(sizes[behind], b, sizeof(b)),
               median_of(s, zc, behind) / median_of(s, rw, behind));
    putchar('\n');
}

/*
 * Two views: the raw calls show what the kernel makes of each size, which
 * is what a threshold should follow; zcio_copy's own two paths show what
 * the library makes of it today, per-call overhead included.
 */
static void print_thresholds(const struct sweep *s)
{
    char name[24];

    printf("\nread_write_below: the smallest size from which zero-copy keeps "
           "up with read/write\n(within %.0f%%):\n", TIE_PCT);
    for (int p = 0; p < N_PAIRS; p++) {
        const struct pair_info *pi = &pairs[p];

        printf("  %s\n", pi->title);
        print_cut(s, "raw calls:", pi->zero_copy, pi->read_write);
        print_cut(s, "zcio_copy's paths:", pi->zcio_zero_copy,
                  pi->zcio_read_write);
        printf("    %-20s %s\n", "the default today:",
               threshold_name(default_cut(s, pi->zcio), name, sizeof(name)));
    }
}

static void report_table(const struct sweep *s)
{
    uint32_t v = zcio_version();

    printf("zcio %u.%u.%u; files in %s (%s), source in the page cache; ",
           v >> 16, (v >> 8) & 0xff, v & 0xff, s->dir, s->fs);
    if (s->reps > 0)
        printf("%u single calls per cell\n", s->reps);
    else
        printf("%.2f s per cell in %u passes, ~1 ms batches\n",
               s->pass_ns * s->passes / 1e9, s->passes);
    for (int p = 0; p < N_PAIRS; p++) {
        print_block(s, (enum pair)p, false);
        print_block(s, (enum pair)p, true);
    }
    print_4k_verdict(s);
    print_thresholds(s);
    if (isfinite(s->other_cpus))
        printf("\nduring the sweep, other work used %.2f CPUs\n",
               s->other_cpus);
}

static void json_number(const char *key, double v)
{
    printf(",\"%s\":", key);
    if (isfinite(v))
        printf("%.2f", v);
    else
        fputs("null", stdout);
}

static void json_cell(const struct sweep *s, int m, unsigned z)
{
    const struct cell *c = &s->cells[m][z];
    bool zcio = methods[m].copy == copy_zcio_file ||
                methods[m].copy == copy_zcio_tcp;

    printf("{\"pair\":\"%s\",\"method\":\"%s\",\"size\":%zu",
           pairs[methods[m].pair].name, methods[m].name, sizes[z]);
    printf(",\"supported\":%s,\"calls\":%" PRIu64 ",\"batches\":%u",
           c->unsupported ? "false" : "true", c->calls, c->n);
    json_number("median_ns", c->median_ns);
    json_number("mb_per_s", mb_per_s(c->median_ns, sizes[z]));
    if (zcio)
        printf(",\"mechanism\":\"%s\",\"fell_back\":%s",
               mech_name(c->mechanism), c->fell_back ? "true" : "false");
    putchar('}');
}

/* A threshold as JSON: bytes, or null when zero-copy never keeps up. */
static void json_cut(const char *key, unsigned cut)
{
    printf(",\"%s\":", key);
    if (cut == N_SIZES)
        fputs("null", stdout);
    else
        printf("%" PRIu64, cut_bytes(cut));
}

static void json_pair(const struct sweep *s, int p)
{
    const struct pair_info *pi = &pairs[p];
    unsigned z = size_index(THRESHOLD_SIZE);
    unsigned raw = first_cut(s, pi->zero_copy, pi->read_write);
    double zcio = median_of(s, pi->zcio, z);
    double rw = median_of(s, pi->read_write, z);

    printf("{\"pair\":\"%s\"", pi->name);
    json_cut("raw_read_write_below", raw);
    json_cut("raw_falls_behind_at",
             falls_behind(s, pi->zero_copy, pi->read_write, raw));
    json_cut("zcio_read_write_below",
             first_cut(s, pi->zcio_zero_copy, pi->zcio_read_write));
    json_cut("default_read_write_below", default_cut(s, pi->zcio));
    json_number("zcio_4k_ns", zcio);
    json_number("read_write_4k_ns", rw);
    printf(",\"zcio_4k_not_slower\":%s}", zcio <= rw ? "true" : "false");
}

static void report_json(const struct sweep *s)
{
    uint32_t v = zcio_version();
    const char *sep = "\n  ";

    printf("{\"program\":\"" PROG "\",\"zcio_version\":\"%u.%u.%u\"",
           v >> 16, (v >> 8) & 0xff, v & 0xff);
    printf(",\"filesystem\":\"%s\",\"window_bytes\":%u", s->fs, WINDOW);
    json_number("other_cpus", s->other_cpus);
    if (s->reps > 0)
        printf(",\"reps\":%u,\"cell_seconds\":null", s->reps);
    else
        printf(",\"reps\":null,\"cell_seconds\":%.3f",
               s->pass_ns * s->passes / 1e9);
    fputs(",\"cells\":[", stdout);
    for (unsigned z = 0; z < N_SIZES; z++) {
        for (int m = 0; m < N_METHODS; m++) {
            fputs(sep, stdout);
            json_cell(s, m, z);
            sep = ",\n  ";
        }
    }
    fputs("],\n\"pairs\":[", stdout);
    for (int p = 0; p < N_PAIRS; p++) {
        fputs(p > 0 ? ",\n  " : "\n  ", stdout);
        json_pair(s, p);
    }
    fputs("]}\n", stdout);
}

int main(int argc, char **argv)
{
    static struct sweep s;
    struct options opt;

    parse_options(argc, argv, &opt);
    /* A receiver that dies must show up as EPIPE, not kill the sweep. */
    signal(SIGPIPE, SIG_IGN);
    s.dir = opt.dir;
    s.reps = opt.reps;
    s.passes = opt.reps > 0 ? 1 : PASSES;
    s.pass_ns = opt.cell_seconds * 1e9 / PASSES;
    s.buf = malloc(MAX_LEN);
    s.check = malloc(MAX_LEN);
    if (s.buf == NULL || s.check == NULL)
        fail("out of memory");
    s.src = scratch_file(s.dir);
    s.dst = scratch_file(s.dir);
    describe_fs(&s);
    fill_files(&s);
    start_receiver(&s);
    log_msg("sweeping %zu sizes x %d methods in %s (%s)", N_SIZES,
            N_METHODS, s.dir, s.fs);
    run_sweep(&s);
    finish_receiver(&s);
    if (opt.json)
        report_json(&s);
    else
        report_table(&s);
    return 0;
}
