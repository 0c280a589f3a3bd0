/* libFuzzer harness: the input is a program of zcio calls on descriptors of
 * every kind, and every call's answer must obey the header's contract. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcio.h"

#define MAX_OPS 64
#define MAX_FILE (4u << 20)   /* files are cut back to this before each op */
#define MAX_STREAM (1u << 20) /* largest count into or out of a stream */
#define MAX_WAITING (48u << 10) /* zcio_copy into a stream: fits its buffer */
#define NMAPS 4
#define NXFERS 2
#define CLOSED_FD 900 /* a number nothing in the process uses */

/* The descriptors every input plays with, rebuilt for each input. */
enum {
    D_FILE,     /* regular file, read-write */
    D_FILE_RO,  /* the same file, read-only */
    D_APPEND,   /* the same file, O_APPEND */
    D_MEMFD,    /* memfd that allows sealing */
    D_PIPE_R,   /* one non-blocking pipe */
    D_PIPE_W,
    D_SOCK_A,   /* one non-blocking socketpair */
    D_SOCK_B,
    D_NULL,     /* /dev/null */
    D_CLOSED,   /* a closed descriptor */
    D_NEG,      /* -1 */
    ND
};

struct input {
    const uint8_t *p;
    size_t left;
};

struct state {
    int fd[ND];
    zcio_map *map[NMAPS];
    zcio_transfer *xfer[NXFERS];
    uint64_t xfer_count[NXFERS];
    uint64_t xfer_budget[NXFERS];
};

static int baseline_free_fd = -1;
static int tracing = -1;

/* ZCIO_FUZZ_TRACE=1 prints every call, to turn a crash into a C program. */
__attribute__((format(printf, 1, 2))) static void trace(const char *fmt, ...)
{
    va_list ap;

    if (tracing < 0)
        tracing = getenv("ZCIO_FUZZ_TRACE") != NULL;
    if (!tracing)
        return;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

static const char *off_str(const int64_t *off, char *buf)
{
    if (off == NULL)
        return "NULL";
    sprintf(buf, "&%lld", (long long)*off);
    return buf;
}

static void bug(const char *call, int rc, const char *what)
{
    fprintf(stderr, "zcio_calls_fuzz: %s returned %d (%s): %s\n", call, rc,
            zcio_err_name(rc), what);
    abort();
}

static uint64_t take(struct input *in, unsigned bytes)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < bytes && in->left > 0; i++, in->left--)
        v |= (uint64_t)*in->p++ << (8 * i);
    return v;
}

/* Lengths cluster near the interesting edges: 0, 1, pages, whole sizes. */
static uint64_t take_len(struct input *in, uint64_t max)
{
    uint8_t kind = (uint8_t)take(in, 1);

    switch (kind % 8) {
    case 0:
        return 0;
    case 1:
        return kind >> 3;
    case 2:
        return 4096 * (take(in, 1) % 16) + (kind >> 6);
    case 3:
        return ZCIO_TO_EOF;
    default:
        return take(in, 4) % (max + 1);
    }
}

static int pick_fd(const struct state *s, struct input *in)
{
    return s->fd[take(in, 1) % ND];
}

static int kind_of(const struct state *s, int fd)
{
    for (int i = 0; i < ND; i++)
        if (s->fd[i] == fd)
            return i;
    return D_NEG;
}

static int is_stream(const struct state *s, int fd)
{
    int k = kind_of(s, fd);

    return k == D_PIPE_R || k == D_PIPE_W || k == D_SOCK_A || k == D_SOCK_B;
}

#ifdef ZCIO_FUZZ_SKIP_KNOWN
static int same_file(int a, int b)
{
    struct stat sa, sb;

    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
#endif

/*
 * For a regular input and "to end of input": the bytes between the read
 * position and the end of the file when the call starts. Nothing else
 * writes the files while a call runs, so a call that moves more has read
 * its own output. UINT64_MAX when there is no such bound.
 */
static uint64_t bytes_left(const struct state *s, int fd, const int64_t *off,
                           uint64_t count)
{
    struct stat st;
    int64_t pos = off ? *off : (int64_t)lseek(fd, 0, SEEK_CUR);

    if (count != ZCIO_TO_EOF || is_stream(s, fd) || fstat(fd, &st) < 0 ||
        !S_ISREG(st.st_mode) || pos < 0)
        return UINT64_MAX;
    return st.st_size > pos ? (uint64_t)(st.st_size - pos) : 0;
}

/* A stream input never ends, so "to end of input" would never stop. */
static uint64_t bound_count(const struct state *s, int in_fd, uint64_t n)
{
    if (is_stream(s, in_fd) && (n == ZCIO_TO_EOF || n > MAX_STREAM))
        return n == ZCIO_TO_EOF ? MAX_STREAM : n % (MAX_STREAM + 1);
    return n;
}

/*
 * Every return code is OK, a negative code zcio can name, or (where the
 * call may return one) a positive code from the list. ZCIO_EPANIC is a bug
 * caught at the boundary; ZCIO_ENULL cannot happen, this harness never
 * passes NULL where a pointer is required.
 */
static void check_rc(const char *call, int rc, int positive_ok)
{
    if (rc == ZCIO_OK)
        return;
    if (rc > 0) {
        if (!positive_ok || rc > ZCIO_MORE)
            bug(call, rc, "positive code where none is documented");
        return;
    }
    if (strcmp(zcio_err_name(rc), "ZCIO_UNKNOWN") == 0)
        bug(call, rc, "code without a name");
    if (rc == ZCIO_EPANIC || rc == ZCIO_ENULL)
        bug(call, rc, "internal error");
}

static void check_count(const char *call, int rc, uint64_t got,
                        uint64_t asked)
{
    if (got > asked)
        bug(call, rc, "moved more bytes than asked");
    if (rc == ZCIO_OK && asked != ZCIO_TO_EOF && got != asked &&
        strcmp(call, "zcio_tee") != 0)
        bug(call, rc, "OK without the whole count");
    if (rc == ZCIO_ESHORT && got >= asked)
        bug(call, rc, "ESHORT with the whole count");
}

static void check_offset(const char *call, int rc, const int64_t *off,
                         int64_t before, uint64_t moved)
{
    if (off != NULL && *off != before + (int64_t)moved)
        bug(call, rc, "offset did not advance by exactly the bytes moved");
}

/* An offset pointer or NULL, with a start near the file's edges. */
static int64_t *take_offset(struct input *in, int64_t *slot)
{
    uint8_t k = (uint8_t)take(in, 1);

    if (k % 3 == 0)
        return NULL;
    *slot = k % 3 == 1 ? (int64_t)(take(in, 4) % (MAX_FILE + 8192))
                       : (int64_t)take(in, 8);
    return slot;
}

static void op_sendfile(struct state *s, struct input *in)
{
    int out = pick_fd(s, in), from = pick_fd(s, in);
    int64_t slot, *off = take_offset(in, &slot), before = off ? *off : 0;
    uint64_t count = bound_count(s, from, take_len(in, MAX_STREAM));
    uint64_t sent = UINT64_MAX;
    uint64_t left;
    char ob[32];
    int rc;

#ifdef ZCIO_FUZZ_SKIP_KNOWN
    /* TODO(#7): the same endless chase as copy_file_range below
     * (fuzz/corpus/zcio_calls_fuzz/sendfile-same-file-to-eof). */
    if (count == ZCIO_TO_EOF && same_file(from, out))
        return;
#endif
    left = bytes_left(s, from, off, count);
    trace("zcio_sendfile(%d, %d, %s, %llu)", out, from, off_str(off, ob),
          (unsigned long long)count);
    rc = zcio_sendfile(out, from, off, count, &sent);
    trace(" = %s, sent %llu\n", zcio_err_name(rc), (unsigned long long)sent);

    check_rc("zcio_sendfile", rc, 0);
    check_count("zcio_sendfile", rc, sent, count);
    if (sent > left)
        bug("zcio_sendfile", rc, "sent more than the file held");
    check_offset("zcio_sendfile", rc, off, before, sent);
}

static void op_splice(struct state *s, struct input *in)
{
    int from = pick_fd(s, in), out = pick_fd(s, in);
    int64_t a, b, *in_off = take_offset(in, &a), *out_off = take_offset(in, &b);
    int64_t in_before = in_off ? *in_off : 0;
    int64_t out_before = out_off ? *out_off : 0;
    uint64_t len = bound_count(s, from, take_len(in, MAX_STREAM));
    uint32_t flags = (uint32_t)take(in, 1);
    uint64_t moved = UINT64_MAX;
    char ib[32], ob[32];
    int rc;

    /* Without NONBLOCK a splice may wait, as documented, on a pipe that
     * only this thread could drain; the descriptors are non-blocking, but
     * keep the flag most of the time so a hang means a real bug. */
    if (flags & 0x80)
        flags |= ZCIO_SPLICE_NONBLOCK;
    flags &= 0x7f;
    trace("zcio_splice(%d, %s, %d, %s, %llu, %u)", from, off_str(in_off, ib),
          out, off_str(out_off, ob), (unsigned long long)len, flags);
    rc = zcio_splice(from, in_off, out, out_off, len, flags, &moved);
    trace(" = %s, moved %llu\n", zcio_err_name(rc),
          (unsigned long long)moved);
    check_rc("zcio_splice", rc, 0);
    check_count("zcio_splice", rc, moved, len);
    check_offset("zcio_splice", rc, in_off, in_before, moved);
    check_offset("zcio_splice", rc, out_off, out_before, moved);
}

static void op_tee(struct state *s, struct input *in)
{
    int from = pick_fd(s, in), out = pick_fd(s, in);
    uint64_t len = take_len(in, MAX_STREAM), copied = UINT64_MAX;
    uint32_t flags = (uint32_t)take(in, 1) % 4 | ZCIO_SPLICE_NONBLOCK;
    int rc = zcio_tee(from, out, len, flags, &copied);

    trace("zcio_tee(%d, %d, %llu, %u) = %s, copied %llu\n", from, out,
          (unsigned long long)len, flags, zcio_err_name(rc),
          (unsigned long long)copied);

    check_rc("zcio_tee", rc, 0);
    check_count("zcio_tee", rc, copied, len);
}

static void op_copy_file_range(struct state *s, struct input *in)
{
    int from = pick_fd(s, in), out = pick_fd(s, in);
    int64_t a, b, *in_off = take_offset(in, &a), *out_off = take_offset(in, &b);
    int64_t in_before = in_off ? *in_off : 0;
    int64_t out_before = out_off ? *out_off : 0;
    uint64_t len = bound_count(s, from, take_len(in, MAX_FILE));
    uint64_t copied = UINT64_MAX, left;
    char ib[32], ob[32];
    int rc;

#ifdef ZCIO_FUZZ_SKIP_KNOWN
    /* TODO(#7): within one file, "to end of input" chases its own output
     * and never ends (fuzz/corpus/zcio_calls_fuzz/copy-file-range-same-file-
     * to-eof). Only for exploring past it. */
    if (len == ZCIO_TO_EOF && same_file(from, out))
        return;
#endif
    left = bytes_left(s, from, in_off, len);
    trace("zcio_copy_file_range(%d, %s, %d, %s, %llu)", from,
          off_str(in_off, ib), out, off_str(out_off, ob),
          (unsigned long long)len);
    rc = zcio_copy_file_range(from, in_off, out, out_off, len, &copied);
    trace(" = %s, copied %llu\n", zcio_err_name(rc),
          (unsigned long long)copied);

    check_rc("zcio_copy_file_range", rc, 0);
    check_count("zcio_copy_file_range", rc, copied, len);
    if (copied > left)
        bug("zcio_copy_file_range", rc, "copied more than the file held");
    check_offset("zcio_copy_file_range", rc, in_off, in_before, copied);
    check_offset("zcio_copy_file_range", rc, out_off, out_before, copied);
}

static void take_opts(struct input *in, zcio_copy_opts *o, int64_t *a,
                      int64_t *b)
{
    zcio_copy_opts_init(o);
    o->mechanisms = (uint32_t)take(in, 1) & 0x1f;
    o->in_offset = take_offset(in, a);
    o->out_offset = take_offset(in, b);
    o->pipe_size = (uint32_t)take(in, 1) << 12;
    o->source_policy = (uint32_t)take(in, 1) % 3;
    o->budget = take(in, 1) % 2 ? take_len(in, MAX_STREAM) : 0;
    if (o->budget == ZCIO_TO_EOF)
        o->budget = 0;
    o->read_write_below = take(in, 1) % 2 ? take(in, 3) : 0;
}

/* Empties whatever waits to be read from the streams. */
static void drain(struct state *s)
{
    static char sink[65536];
    const int ends[] = { s->fd[D_PIPE_R], s->fd[D_SOCK_A], s->fd[D_SOCK_B] };

    for (unsigned i = 0; i < sizeof ends / sizeof ends[0]; i++)
        while (read(ends[i], sink, sizeof sink) > 0)
            continue;
}

static void op_copy(struct state *s, struct input *in)
{
    int out = pick_fd(s, in), from = pick_fd(s, in);
    uint64_t count = bound_count(s, from, take_len(in, MAX_STREAM));
    zcio_copy_opts o;
    zcio_copy_result r = { .size = sizeof r };
    int64_t a, b, in_before, out_before;
    uint64_t left;
    char ib[32], ob[32];
    int rc;

    take_opts(in, &o, &a, &b);
    in_before = o.in_offset ? *o.in_offset : 0;
    out_before = o.out_offset ? *o.out_offset : 0;
    /*
     * zcio_copy waits for a non-blocking output to take bytes it has read
     * (documented), so an output stream nobody reads must have room for
     * the whole count.
     */
    if (is_stream(s, out)) {
        drain(s);
        if (count > MAX_WAITING)
            count %= MAX_WAITING + 1;
    }
#ifdef ZCIO_FUZZ_SKIP_KNOWN
    /* TODO(#7): zcio_copy to a character device with an output offset
     * moves the bytes by splice and leaves the offset where it was
     * (fuzz/corpus/zcio_calls_fuzz/copy-chardev-out-offset). Only for
     * exploring past it. */
    if (kind_of(s, out) == D_NULL)
        o.out_offset = NULL;
#endif
    left = bytes_left(s, from, o.in_offset, count);
    r.moved = r.read = UINT64_MAX;
    trace("zcio_copy(%d, %d, %llu, {mech %#x, in %s, out %s, pipe %u, "
          "policy %u, budget %llu, rw_below %llu})",
          out, from, (unsigned long long)count, o.mechanisms,
          off_str(o.in_offset, ib), off_str(o.out_offset, ob), o.pipe_size,
          o.source_policy, (unsigned long long)o.budget,
          (unsigned long long)o.read_write_below);
    rc = zcio_copy(out, from, count, &o, &r);
    trace(" = %s, moved %llu, read %llu, mech %u, in %s, out %s\n",
          zcio_err_name(rc), (unsigned long long)r.moved,
          (unsigned long long)r.read, r.mechanism, off_str(o.in_offset, ib),
          off_str(o.out_offset, ob));
    check_rc("zcio_copy", rc, 1);
    if (rc > 0 && rc != ZCIO_MORE)
        bug("zcio_copy", rc, "WANT_* from zcio_copy");
    if (rc == ZCIO_MORE && o.budget == 0)
        bug("zcio_copy", rc, "MORE without a budget");
    if (o.budget != 0 && r.moved > o.budget)
        bug("zcio_copy", rc, "moved past the budget");
    if (r.read < r.moved)
        bug("zcio_copy", rc, "wrote more than it read");
    if (r.read > left)
        bug("zcio_copy", rc, "read more than the file held");
    check_count("zcio_copy", rc == ZCIO_MORE ? ZCIO_EAGAIN : rc, r.moved,
                count);
    check_count("zcio_copy(read)", ZCIO_EAGAIN, r.read, count);
    check_offset("zcio_copy(in)", rc, o.in_offset, in_before, r.read);
    check_offset("zcio_copy(out)", rc, o.out_offset, out_before, r.moved);
}

static void op_transfer_new(struct state *s, struct input *in)
{
    unsigned i = (unsigned)take(in, 1) % NXFERS;
    int out = pick_fd(s, in), from = pick_fd(s, in);
    uint64_t count = bound_count(s, from, take_len(in, MAX_STREAM));
    zcio_copy_opts o;
    int64_t a, b;
    int rc;

    take_opts(in, &o, &a, &b);
    zcio_transfer_free(s->xfer[i]);
    s->xfer[i] = (zcio_transfer *)&s; /* must be overwritten */
    rc = zcio_transfer_new(out, from, count, &o, &s->xfer[i]);
    check_rc("zcio_transfer_new", rc, 0);
    if ((rc == ZCIO_OK) != (s->xfer[i] != NULL))
        bug("zcio_transfer_new", rc, "t_out does not match the result");
    s->xfer_count[i] = count;
    s->xfer_budget[i] = o.budget;
}

static void op_transfer_step(struct state *s, struct input *in)
{
    unsigned i = (unsigned)take(in, 1) % NXFERS;
    uint64_t budget = take(in, 1) % 2 ? take_len(in, MAX_STREAM) : 0;
    zcio_transfer_progress p = { .size = sizeof p };
    uint64_t limit;
    int rc;

    if (s->xfer[i] == NULL)
        return;
    if (budget == ZCIO_TO_EOF)
        budget = 0;
    limit = budget ? budget : s->xfer_budget[i];
    rc = zcio_transfer_step(s->xfer[i], budget, &p);
    check_rc("zcio_transfer_step", rc, 1);
    check_count("zcio_transfer_step", ZCIO_EAGAIN, p.written,
                s->xfer_count[i]);
    if (p.read < p.written || p.buffered != p.read - p.written)
        bug("zcio_transfer_step", rc, "read, written and buffered disagree");
    if (p.step_written > p.written || p.step_read > p.read)
        bug("zcio_transfer_step", rc, "step counts exceed the totals");
    if (limit != 0 && p.step_written > limit)
        bug("zcio_transfer_step", rc, "step wrote past its budget");
    if (rc == ZCIO_OK && s->xfer_count[i] != ZCIO_TO_EOF &&
        p.written != s->xfer_count[i])
        bug("zcio_transfer_step", rc, "OK before the whole count");
}

static void op_transfer_free(struct state *s, struct input *in)
{
    unsigned i = (unsigned)take(in, 1) % NXFERS;

    zcio_transfer_free(s->xfer[i]);
    s->xfer[i] = NULL;
}

static void op_map_open(struct state *s, struct input *in)
{
    unsigned i = (unsigned)take(in, 1) % NMAPS;
    uint8_t how = (uint8_t)take(in, 1);
    int fd = pick_fd(s, in);
    uint64_t off = take_len(in, MAX_FILE), len = take_len(in, MAX_FILE);
    uint32_t flags = (uint32_t)take(in, 1) & 0x1f;
    int rc;

    zcio_map_close(s->map[i]);
    s->map[i] = (zcio_map *)&s;
    if (how % 4 == 0) {
        rc = zcio_map_anon(len % (MAX_STREAM + 1), flags & ~ZCIO_MAP_READ,
                           &s->map[i]);
    } else if (how % 4 == 1) {
        char path[64];

        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        rc = zcio_map_open_path(path, off, len, flags, &s->map[i]);
    } else {
        rc = zcio_map_open(fd, off, len, flags, &s->map[i]);
    }
    check_rc("zcio_map_open", rc, 0);
    if ((rc == ZCIO_OK) != (s->map[i] != NULL))
        bug("zcio_map_open", rc, "map_out does not match the result");
}

/* Reads, writes or sends a range of one mapping, in or out of bounds. */
static void op_map_io(struct state *s, struct input *in)
{
    static uint8_t buf[MAX_STREAM];
    zcio_map *m = s->map[take(in, 1) % NMAPS];
    uint8_t what = (uint8_t)take(in, 1) % 3;
    uint64_t mlen = zcio_map_len(m);
    uint64_t off = take(in, 1) % 2 ? take(in, 4) % (mlen + 2) : take(in, 8);
    uint64_t len = take_len(in, sizeof buf), done = UINT64_MAX;
    int out = pick_fd(s, in);
    int rc;

    if (m == NULL)
        return;
    if (what != 2 && len > sizeof buf)
        len = sizeof buf;
    if (what == 0)
        rc = zcio_map_read(m, off, buf, len, &done);
    else if (what == 1)
        rc = zcio_map_write(m, off, buf, len, &done);
    else
        rc = zcio_map_send(m, off, len, out, &done);
    check_rc("zcio_map_io", rc, 0);
    check_count("zcio_map_io", rc, done, len);
    if (rc == ZCIO_OK && done > 0 && (off > mlen || done > mlen - off))
        bug("zcio_map_io", rc, "bytes beyond the mapping");
}

static void op_map_misc(struct state *s, struct input *in)
{
    zcio_map *m = s->map[take(in, 1) % NMAPS];
    uint8_t what = (uint8_t)take(in, 1) % 6;
    uint64_t off = take_len(in, MAX_FILE), len = take_len(in, MAX_FILE);
    uint64_t out = UINT64_MAX;
    uint32_t arg = (uint32_t)take(in, 1) % 8;
    int rc;

    if (m == NULL)
        return;
    switch (what) {
    case 0:
        rc = zcio_map_resize(m, len % (2 * MAX_FILE));
        break;
    case 1:
        rc = zcio_map_check(m, &out);
        break;
    case 2:
        rc = zcio_map_resident(m, off, len, &out);
        if (rc == ZCIO_OK && out > zcio_map_len(m))
            bug("zcio_map_resident", rc, "more resident than mapped");
        break;
    case 3:
        rc = zcio_map_sync(m, off, len, arg % 3);
        break;
    case 4:
        rc = zcio_map_advise(m, off, len, arg);
        break;
    default:
        rc = arg % 2 ? zcio_map_lock(m) : zcio_map_unlock(m);
        break;
    }
    check_rc("zcio_map_misc", rc, 0);
}

static void op_map_close(struct state *s, struct input *in)
{
    unsigned i = (unsigned)take(in, 1) % NMAPS;

    zcio_map_close(s->map[i]);
    s->map[i] = NULL;
}

static void op_pipe_new(struct input *in)
{
    int fds[2] = { -2, -2 };
    uint32_t hint = (uint32_t)take(in, 4) % (2u << 20);
    uint32_t flags = (uint32_t)take(in, 1) % 4;
    int rc = zcio_pipe_new(hint, flags, fds);

    check_rc("zcio_pipe_new", rc, 0);
    if (rc != ZCIO_OK) {
        if (fds[0] != -1 || fds[1] != -1)
            bug("zcio_pipe_new", rc, "descriptors not -1 on error");
        return;
    }
    if ((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) == 0 ||
        (fcntl(fds[1], F_GETFD) & FD_CLOEXEC) == 0)
        bug("zcio_pipe_new", rc, "pipe without close-on-exec");
    close(fds[0]);
    close(fds[1]);
}

static void op_pool(struct input *in)
{
    zcio_pool_config c = { .size = sizeof c };
    int rc;

    if (take(in, 1) % 2) {
        zcio_pool_trim();
        return;
    }
    c.max_pipes = (uint32_t)take(in, 1) % 5;
    c.pipe_size = (uint32_t)take(in, 1) << 12;
    c.max_buffers = (uint32_t)take(in, 1) % 4;
    c.buffer_size = (uint32_t)take(in, 1) << 10;
    c.reserved = take(in, 1) == 0xff;
    rc = zcio_pool_configure(&c);
    check_rc("zcio_pool_configure", rc, 0);
}

/* Faults in the library's own system calls, cleared after every input. */
static void op_fault(struct input *in)
{
    static const int errs[] = { ZCIO_EAGAIN, ZCIO_EINTR, ZCIO_ENOSYS,
                                ZCIO_EINVAL, ZCIO_EPIPE, ZCIO_EIO,
                                ZCIO_EXDEV, ZCIO_EBADF };
    zcio_fault f = { .size = sizeof f };
    uint8_t r = (uint8_t)take(in, 1);

    f.call = (uint32_t)take(in, 1) % 8;
    f.after = take(in, 1) % 8;
    f.times = (uint32_t)take(in, 1) % 4;
    f.result = r < 128 ? errs[r % 8] : (int32_t)(r - 127);
    check_rc("zcio_fault_inject", zcio_fault_inject(&f), 0);
}

/* Changes the descriptors under the library: data, size, seals, shutdown. */
static void op_poke(struct state *s, struct input *in)
{
    static const char fill[4096];
    uint8_t what = (uint8_t)take(in, 1) % 6;
    uint64_t n = take(in, 2) % sizeof fill;

    switch (what) {
    case 0:
        if (write(s->fd[D_PIPE_W], fill, n) < 0)
            break;
        break;
    case 1:
        send(s->fd[take(in, 1) % 2 ? D_SOCK_A : D_SOCK_B], fill, n,
             MSG_NOSIGNAL | MSG_DONTWAIT);
        break;
    case 2:
        if (ftruncate(s->fd[take(in, 1) % 2 ? D_FILE : D_MEMFD],
                      (off_t)(take(in, 4) % MAX_FILE)) < 0)
            break;
        break;
    case 3:
        fcntl(s->fd[D_MEMFD], F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE);
        break;
    case 4:
        shutdown(s->fd[take(in, 1) % 2 ? D_SOCK_A : D_SOCK_B],
                 (int)(take(in, 1) % 3));
        break;
    default:
        drain(s);
        break;
    }
}

static int make_fds(struct state *s)
{
    char path[] = "/tmp/zcio_fuzz_XXXXXX";
    int p[2], sp[2];

    s->fd[D_FILE] = mkstemp(path);
    if (s->fd[D_FILE] < 0)
        return -1;
    s->fd[D_FILE_RO] = open(path, O_RDONLY | O_CLOEXEC);
    s->fd[D_APPEND] = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    unlink(path);
    s->fd[D_MEMFD] = memfd_create("zcio_fuzz", MFD_CLOEXEC |
                                                   MFD_ALLOW_SEALING);
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sp) < 0)
        return -1;
    s->fd[D_PIPE_R] = p[0];
    s->fd[D_PIPE_W] = p[1];
    s->fd[D_SOCK_A] = sp[0];
    s->fd[D_SOCK_B] = sp[1];
    s->fd[D_NULL] = open("/dev/null", O_RDWR | O_CLOEXEC);
    s->fd[D_CLOSED] = CLOSED_FD;
    s->fd[D_NEG] = -1;

    trace("fds: file %d, file_ro %d, append %d, memfd %d, pipe %d %d, "
          "socketpair %d %d, null %d, closed %d\n", s->fd[D_FILE],
          s->fd[D_FILE_RO], s->fd[D_APPEND], s->fd[D_MEMFD], p[0], p[1],
          sp[0], sp[1], s->fd[D_NULL], CLOSED_FD);

    /* A few pages of content, so reads and maps find something. */
    if (ftruncate(s->fd[D_FILE], 3 * 4096 + 100) < 0 ||
        ftruncate(s->fd[D_MEMFD], 2 * 4096 + 7) < 0)
        return -1;
    return 0;
}

/* The library must leave every caller's descriptor open and unchanged. */
static void close_fds(struct state *s)
{
    for (int i = 0; i < ND; i++) {
        if (i == D_CLOSED || i == D_NEG)
            continue;
        if (fcntl(s->fd[i], F_GETFD) < 0)
            bug("(end of input)", -errno, "a caller's descriptor was closed");
        if ((fcntl(s->fd[i], F_GETFL) & O_NONBLOCK) == 0 &&
            (i >= D_PIPE_R && i <= D_SOCK_B))
            bug("(end of input)", 0, "O_NONBLOCK was cleared");
        close(s->fd[i]);
    }
    if (fcntl(CLOSED_FD, F_GETFD) >= 0)
        bug("(end of input)", 0, "something opened the closed descriptor");
}

/*
 * A copy that reads its own output grows a file without end; capped, it
 * fails with EFBIG instead of filling the disk, and the byte-count checks
 * above report it. SIGXFSZ would end the process first, so it is ignored.
 */
static void limit_file_size(void)
{
    static int done;
    struct rlimit rl = { 64u << 20, 64u << 20 };

    if (done++)
        return;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
        abort();
}

static int lowest_free_fd(void)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

    if (fd >= 0)
        close(fd);
    return fd;
}

static void run(struct state *s, struct input *in)
{
    for (int n = 0; n < MAX_OPS && in->left > 0; n++) {
        struct stat st;

        /* Keep the files small, whatever the input appended to them. */
        if (fstat(s->fd[D_FILE], &st) == 0 && st.st_size > MAX_FILE &&
            ftruncate(s->fd[D_FILE], MAX_FILE) < 0)
            abort();
        switch (take(in, 1) % 17) {
        case 0: op_sendfile(s, in); break;
        case 1: op_splice(s, in); break;
        case 2: op_tee(s, in); break;
        case 3: op_copy_file_range(s, in); break;
        case 4: case 5: op_copy(s, in); break;
        case 6: op_transfer_new(s, in); break;
        case 7: case 8: op_transfer_step(s, in); break;
        case 9: op_transfer_free(s, in); break;
        case 10: op_map_open(s, in); break;
        case 11: op_map_io(s, in); break;
        case 12: op_map_misc(s, in); break;
        case 13: op_map_close(s, in); break;
        case 14: op_pipe_new(in); break;
        case 15: take(in, 1) % 2 ? op_pool(in) : op_fault(in); break;
        default: op_poke(s, in); break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state s;
    struct input in = { data, size };
    zcio_pool_config defaults = { .size = sizeof defaults };
    zcio_pool_counters pc = { .size = sizeof pc };

    memset(&s, 0, sizeof s);
    limit_file_size();
    baseline_free_fd = lowest_free_fd();
    if (make_fds(&s) < 0) {
        perror("zcio_calls_fuzz: setting up descriptors");
        abort();
    }

    run(&s, &in);

    for (int i = 0; i < NXFERS; i++)
        zcio_transfer_free(s.xfer[i]);
    for (int i = 0; i < NMAPS; i++)
        zcio_map_close(s.map[i]);
    zcio_fault_clear();
    close_fds(&s);

    /* Every leased pipe is back; trimmed, the pool holds no descriptor. */
    zcio_pool_stats(&pc);
    if (pc.pipes_in_use != 0)
        bug("(end of input)", 0, "pipes still leased after every free");
    zcio_pool_configure(&defaults);
    zcio_pool_trim();
    if (lowest_free_fd() != baseline_free_fd) {
        char link[64], target[256] = "";
        int fd = baseline_free_fd;

        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        if (readlink(link, target, sizeof target - 1) < 0)
            strcpy(target, "?");
        fprintf(stderr, "zcio_calls_fuzz: descriptor %d (%s) left open\n",
                fd, target);
        bug("(end of input)", 0, "descriptor leaked");
    }
    return 0;
}
