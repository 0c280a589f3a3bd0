/* zcio-mirror: forwards each client's stream to a primary upstream and
 * duplicates it with zcio_tee to a mirror (a second upstream, or a file per
 * connection), on one edge-triggered epoll loop. The mirror never slows the
 * primary: when its pipe is full its copy is cut, logged and counted, and
 * the primary carries on. The primary's reply goes back to the client.
 *
 * Per connection: client -> pipe A (splice, only when A is empty), tee A ->
 * pipe B (all of A at once, or the mirror is cut), A -> primary (splice),
 * B -> mirror (splice, never waited for); primary -> client is a
 * zcio_transfer.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcio.h"

#define PROG "zcio-mirror"
#define TAG_LISTENER UINT64_MAX
#define TAG_SIGNAL (UINT64_MAX - 1)

enum side { CLIENT, PRIMARY, MIRROR };
enum mirror_state { M_NONE, M_ON, M_DONE, M_CUT, M_FAILED };

struct addr {
    struct sockaddr_storage ss;
    socklen_t len;
};

static struct {
    struct addr listen, primary, mirror;
    const char *mirror_prefix; /* file:PREFIX, else NULL */
    const char *port_file;
    unsigned max_conns;
    double connect_timeout, linger;
    uint32_t pipe_size, mirror_buffer;
    uint64_t budget;
} opt = {
    .max_conns = 256, .connect_timeout = 10, .linger = 5,
    .pipe_size = 1 << 20, .mirror_buffer = 1 << 20, .budget = 1 << 20,
};

struct conn {
    uint32_t slot, gen;
    unsigned long id;
    int client, primary, mirror;
    int a[2], b[2];       /* pipes: A carries the stream, B the copy */
    uint64_t a_cap, a_len, b_len;
    bool primary_up, mirror_up, client_eof, fwd_done, rev_done, queued;
    enum mirror_state mstate;
    char mreason[200];
    zcio_transfer *rev;   /* primary -> client */
    uint64_t to_primary, to_mirror, back;
    double start, deadline; /* deadline: primary connect, then linger */
    char peer[64];
};

static struct conn **slots;
static uint32_t *ready, nready;
static int epfd;
static uint32_t live;
static unsigned long next_id = 1;
static struct {
    uint64_t conns, refused, complete, cut, failed;
    uint64_t to_primary, to_mirror;
} count;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void logf_(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, PROG ": %s\n", line);
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: " PROG " [options] LISTEN PRIMARY MIRROR\n"
        "Forwards each connection to LISTEN to PRIMARY and passes PRIMARY's\n"
        "reply back; a copy of the client's stream goes to MIRROR, either\n"
        "HOST:PORT or file:PREFIX (connection N is written to PREFIX.N).\n"
        "The mirror never slows the primary: when it falls behind by more\n"
        "than its buffer, its copy is cut and the primary carries on.\n"
        "Addresses are HOST:PORT or [IPV6]:PORT; port 0 picks a free port.\n"
        "\n"
        "  -m, --max-conns N          connections at once (default 256)\n"
        "  -t, --connect-timeout S    seconds for PRIMARY to accept\n"
        "                             (default 10)\n"
        "  -B, --mirror-buffer BYTES  how far the mirror may lag before it\n"
        "                             is cut: its pipe size (default 1 MiB)\n"
        "  -l, --linger S             seconds the mirror may take to catch up\n"
        "                             after the connection ends (default 5)\n"
        "  -p, --port-file PATH       write the bound port there\n"
        "  -h, --help                 show this help\n"
        "\n"
        "SIGINT or SIGTERM closes every connection, prints the counters and\n"
        "exits 0.\n");
}

static bool resolve(const char *text, bool passive, struct addr *out)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
    size_t hlen;
    int rc;

    if (!colon || !colon[1] || (size_t)(colon - text) >= sizeof host) {
        logf_("%s: want HOST:PORT", text);
        return false;
    }
    hlen = (size_t)(colon - text);
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        memmove(host, host + 1, hlen - 2);
        host[hlen - 2] = '\0';
    }
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    rc = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res);
    if (rc != 0) {
        logf_("%s: %s", text, gai_strerror(rc));
        return false;
    }
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static void describe(const struct sockaddr_storage *ss, char *buf, size_t n)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        snprintf(buf, n, "%s:%u", host, port);
        return;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, n, "[%s]:%u", host, port);
}

static bool parse_double(const char *s, double min, double max, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return !errno && end != s && !*end && *out >= min && *out <= max;
}

/* 0: parsed; 1: usage error; 2: --help shown. */
static int parse_options(int argc, char **argv)
{
    static const struct option longs[] = {
        { "max-conns", required_argument, NULL, 'm' },
        { "connect-timeout", required_argument, NULL, 't' },
        { "mirror-buffer", required_argument, NULL, 'B' },
        { "linger", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    double v;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:t:B:l:p:h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (!parse_double(optarg, 1, 65536, &v))
                return logf_("--max-conns wants 1 to 65536"), 1;
            opt.max_conns = (unsigned)v;
            break;
        case 't':
            if (!parse_double(optarg, 0.001, 86400, &opt.connect_timeout))
                return logf_("--connect-timeout wants seconds > 0"), 1;
            break;
        case 'B':
            if (!parse_double(optarg, 4096, 1 << 30, &v))
                return logf_("--mirror-buffer wants 4096 to 1 GiB"), 1;
            opt.mirror_buffer = (uint32_t)v;
            break;
        case 'l':
            if (!parse_double(optarg, 0, 86400, &opt.linger))
                return logf_("--linger wants seconds >= 0"), 1;
            break;
        case 'p':
            opt.port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 2;
        case ':':
            return logf_("%s needs a value (see --help)", argv[optind - 1]),
                   1;
        default:
            return logf_("unknown option %s (see --help)", argv[optind - 1]),
                   1;
        }
    }
    if (argc - optind != 3)
        return logf_("want LISTEN, PRIMARY and MIRROR (see --help)"), 1;
    if (!resolve(argv[optind], true, &opt.listen) ||
        !resolve(argv[optind + 1], false, &opt.primary))
        return 1;
    if (strncmp(argv[optind + 2], "file:", 5) == 0)
        opt.mirror_prefix = argv[optind + 2] + 5;
    else if (!resolve(argv[optind + 2], false, &opt.mirror))
        return 1;
    return 0;
}

static uint64_t tag(const struct conn *c, enum side s)
{
    return (uint64_t)c->gen << 32 | (uint64_t)c->slot << 2 | s;
}

static bool watch(int fd, uint64_t t)
{
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = t,
    };

    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static const char *mirror_word(const struct conn *c)
{
    static const char *const words[] = { "none", "on", "complete", "cut",
                                         "failed" };
    return words[c->mstate];
}

/* Ends the mirror's copy; st is M_DONE, M_CUT or M_FAILED. */
static void mirror_stop(struct conn *c, enum mirror_state st,
                        const char *reason)
{
    if (c->mstate != M_ON)
        return;
    c->mstate = st;
    snprintf(c->mreason, sizeof c->mreason, "%s", reason);
    if (st == M_DONE)
        count.complete++;
    else if (st == M_CUT)
        count.cut++;
    else
        count.failed++;
    if (st != M_DONE)
        logf_("conn %lu: mirror %s after %" PRIu64 " bytes: %s", c->id,
              st == M_CUT ? "cut" : "dropped", c->to_mirror, reason);
    close_fd(&c->mirror);
    close_fd(&c->b[0]);
    close_fd(&c->b[1]);
    c->b_len = 0;
}

static void conn_close(struct conn *c, const char *reason)
{
    if (c->mstate == M_ON)
        mirror_stop(c, M_FAILED, "the connection ended first");
    logf_("conn %lu %s: %" PRIu64 " bytes to primary, %" PRIu64
          " bytes back, mirror %s %" PRIu64 " bytes%s%s, %.3f s, closed: %s",
          c->id, c->peer, c->to_primary, c->back, mirror_word(c),
          c->to_mirror, c->mreason[0] ? ": " : "", c->mreason,
          now() - c->start, reason);
    count.to_primary += c->to_primary;
    count.to_mirror += c->to_mirror;
    zcio_transfer_free(c->rev);
    close_fd(&c->client);
    close_fd(&c->primary);
    close_fd(&c->mirror);
    for (int i = 0; i < 2; i++) {
        close_fd(&c->a[i]);
        close_fd(&c->b[i]);
    }
    slots[c->slot] = NULL;
    free(c);

    /* The reverse transfer's pipe went back to zcio's pool; an idle server
     * gives such pipes back, so it holds only what it started with. */
    if (--live == 0)
        zcio_pool_trim();
}

/* Moves what B holds to the mirror without ever waiting for it. */
static void mirror_drain(struct conn *c)
{
    uint64_t moved = 0;
    int rc;

    if (c->mstate != M_ON || !c->mirror_up)
        return;
    if (c->b_len > 0) {
        rc = zcio_splice(c->b[0], NULL, c->mirror, NULL, c->b_len,
                         ZCIO_SPLICE_NONBLOCK, &moved);
        c->b_len -= moved;
        c->to_mirror += moved;
        if (rc == ZCIO_EAGAIN)
            return;
        if (rc < 0) {
            char why[128];
            snprintf(why, sizeof why, "%s (%s)", zcio_strerror(rc),
                     zcio_err_name(rc));
            return mirror_stop(c, M_FAILED, why);
        }
    }
    if (c->fwd_done && c->b_len == 0) {
        if (!opt.mirror_prefix)
            shutdown(c->mirror, SHUT_WR);
        mirror_stop(c, M_DONE, "");
    }
}

/* Duplicates the n bytes that A holds into B, all of them or none: tee
 * copies from the head of A, so a partial copy could not be completed. */
static void mirror_tee(struct conn *c, uint64_t n)
{
    uint64_t copied = 0;
    char why[160];
    int rc;

    if (c->mstate != M_ON)
        return;
    mirror_drain(c);
    if (c->mstate != M_ON)
        return;
    rc = zcio_tee(c->a[0], c->b[1], n, ZCIO_SPLICE_NONBLOCK, &copied);
    if (rc == ZCIO_OK && copied == n) {
        c->b_len += n;
        return mirror_drain(c);
    }
    if (rc == ZCIO_OK || rc == ZCIO_EAGAIN) {
        /* The copy of this chunk would be partial: the mirror gets an
         * exact prefix of the stream (what B holds now) and no more. */
        c->b_len += copied;
        mirror_drain(c);
        snprintf(why, sizeof why,
                 "fell behind by more than its %u-byte pipe",
                 opt.mirror_buffer);
        return mirror_stop(c, M_CUT, why);
    }
    snprintf(why, sizeof why, "tee: %s", zcio_strerror(rc));
    mirror_stop(c, M_FAILED, why);
}

static void enqueue(struct conn *c)
{
    if (!c->queued) {
        c->queued = true;
        ready[nready++] = c->slot;
    }
}

/* Client -> A -> primary, teeing every chunk to the mirror. Returns false
 * when the connection failed (the reason is in why). */
static bool forward(struct conn *c, char *why, size_t n)
{
    uint64_t budget = opt.budget, moved;
    int rc;

    while (!c->fwd_done) {
        if (c->a_len > 0) {
            moved = 0;
            rc = zcio_splice(c->a[0], NULL, c->primary, NULL, c->a_len,
                             ZCIO_SPLICE_NONBLOCK, &moved);
            c->a_len -= moved;
            c->to_primary += moved;
            if (rc == ZCIO_EAGAIN)
                return true; /* EPOLLOUT on the primary resumes */
            if (rc < 0)
                return snprintf(why, n, "to primary: %s (%s)",
                                zcio_strerror(rc), zcio_err_name(rc)),
                       false;
            continue;
        }
        if (c->client_eof) {
            shutdown(c->primary, SHUT_WR);
            c->fwd_done = true;
            mirror_drain(c);
            break;
        }
        if (budget == 0) {
            enqueue(c);
            return true;
        }

        /* A is empty, so the chunk read now is exactly what A holds. */
        moved = 0;
        rc = zcio_splice(c->client, NULL, c->a[1], NULL, c->a_cap,
                         ZCIO_SPLICE_NONBLOCK, &moved);
        if (rc == ZCIO_ESHORT)
            c->client_eof = true;
        else if (rc < 0 && rc != ZCIO_EAGAIN)
            return snprintf(why, n, "from client: %s (%s)",
                            zcio_strerror(rc), zcio_err_name(rc)),
                   false;
        c->a_len = moved;
        budget = moved < budget ? budget - moved : 0;
        if (moved > 0)
            mirror_tee(c, moved);
        else if (rc == ZCIO_EAGAIN)
            return true; /* an empty pipe has room: the client is idle */
    }
    return true;
}

/* Primary -> client. */
static bool backward(struct conn *c, char *why, size_t n)
{
    zcio_transfer_progress p = { .size = sizeof p };
    int rc;

    if (c->rev_done)
        return true;
    rc = zcio_transfer_step(c->rev, opt.budget, &p);
    c->back = p.written;
    if (rc < 0)
        return snprintf(why, n, "to client: %s (%s)", zcio_strerror(rc),
                        zcio_err_name(rc)),
               false;
    if (rc == ZCIO_OK) {
        shutdown(c->client, SHUT_WR);
        c->rev_done = true;
    } else if (rc == ZCIO_MORE) {
        enqueue(c);
    }
    return true;
}

/* 1: connected; 0: still connecting; -1: failed, with the reason. */
static int connected(int fd, char *why, size_t n, const char *what)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int err = 0;

    if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
        return 1;
    len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err == 0)
        return 0;
    snprintf(why, n, "connect to %s: %s", what, zcio_strerror(-err));
    return -1;
}

static void pump(struct conn *c)
{
    char why[200];
    int rc;

    if (c->mstate == M_ON && !c->mirror_up) {
        rc = connected(c->mirror, why, sizeof why, "mirror");
        if (rc < 0)
            mirror_stop(c, M_FAILED, why);
        c->mirror_up = rc > 0;
    }
    if (!c->primary_up) {
        rc = connected(c->primary, why, sizeof why, "primary");
        if (rc < 0)
            return conn_close(c, why);
        if (rc == 0)
            return; /* the client's bytes wait in its socket */
        c->primary_up = true;
        rc = zcio_transfer_new(c->client, c->primary, ZCIO_TO_EOF, NULL,
                               &c->rev);
        if (rc < 0)
            return conn_close(c, zcio_strerror(rc));
    }
    if (c->client >= 0 && (!forward(c, why, sizeof why) ||
                           !backward(c, why, sizeof why)))
        return conn_close(c, why);
    mirror_drain(c);
    if (c->fwd_done && c->rev_done) {
        if (c->mstate != M_ON)
            return conn_close(c, "done");
        if (c->client >= 0) {
            /* Client and primary are finished; only the mirror's copy is
             * still on its way, for at most --linger seconds. */
            close_fd(&c->client);
            close_fd(&c->primary);
            c->deadline = now() + opt.linger;
        }
    }
}

static int open_mirror(struct conn *c)
{
    char path[4096];

    if (opt.mirror_prefix) {
        snprintf(path, sizeof path, "%s.%lu", opt.mirror_prefix, c->id);
        c->mirror_up = true;
        return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    int fd = socket(opt.mirror.ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&opt.mirror.ss,
                           opt.mirror.len) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sets up a connection; on failure it is logged and closed. */
static void start(int client, const struct sockaddr_storage *ss, uint32_t s)
{
    struct conn *c = calloc(1, sizeof *c);
    static uint32_t gen;
    char why[200] = "";
    int one = 1, rc;

    if (!c) {
        close(client);
        return logf_("out of memory");
    }
    *c = (struct conn){ .slot = s, .gen = ++gen, .id = next_id++,
                        .client = client, .primary = -1, .mirror = -1,
                        .a = { -1, -1 }, .b = { -1, -1 }, .start = now(),
                        .mstate = M_ON };
    describe(ss, c->peer, sizeof c->peer);
    slots[s] = c;
    live++;
    count.conns++;
    c->deadline = c->start + opt.connect_timeout;

    if ((rc = zcio_pipe_new(opt.pipe_size, ZCIO_PIPE_NONBLOCK, c->a)) < 0 ||
        (rc = zcio_pipe_new(opt.mirror_buffer, ZCIO_PIPE_NONBLOCK, c->b)) <
            0) {
        c->mstate = M_NONE; /* a setup failure is no mirror cut */
        return conn_close(c, zcio_strerror(rc));
    }
    c->a_cap = (uint64_t)fcntl(c->a[0], F_GETPIPE_SZ);
    c->primary = socket(opt.primary.ss.ss_family,
                        SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->primary < 0 ||
        (connect(c->primary, (struct sockaddr *)&opt.primary.ss,
                 opt.primary.len) < 0 && errno != EINPROGRESS)) {
        snprintf(why, sizeof why, "connect to primary: %s",
                 zcio_strerror(-errno));
        c->mstate = M_NONE;
        return conn_close(c, why);
    }
    setsockopt(c->primary, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    c->mirror = open_mirror(c);
    if (c->mirror < 0) {
        snprintf(why, sizeof why, "mirror: %s", zcio_strerror(-errno));
        mirror_stop(c, M_FAILED, why);
    }
    if (!watch(client, tag(c, CLIENT)) ||
        !watch(c->primary, tag(c, PRIMARY)) ||
        (c->mstate == M_ON && !opt.mirror_prefix &&
         !watch(c->mirror, tag(c, MIRROR))))
        return conn_close(c, "epoll_ctl failed");
}

static void accept_all(int lfd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        char peer[64];
        uint32_t s;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                logf_("accept: %s", zcio_strerror(-errno));
            return;
        }
        for (s = 0; s < opt.max_conns && slots[s]; s++)
            ;
        if (s == opt.max_conns) {
            describe(&ss, peer, sizeof peer);
            logf_("conn - %s: refused, max-conns %u reached", peer,
                  opt.max_conns);
            count.refused++;
            close(fd);
            continue;
        }
        start(fd, &ss, s);
    }
}

/* Primary connect timeouts and mirror linger deadlines; returns the
 * epoll_wait timeout in milliseconds. */
static int expire(void)
{
    double t = now(), next = -1;

    for (uint32_t s = 0; s < opt.max_conns; s++) {
        struct conn *c = slots[s];
        bool lingering = c && c->client < 0;

        if (!c || (c->primary_up && !lingering))
            continue;
        if (c->deadline <= t) {
            if (lingering) {
                mirror_stop(c, M_CUT, "did not catch up within --linger");
                conn_close(c, "done");
            } else {
                conn_close(c, "connect to primary: timed out");
            }
        } else if (next < 0 || c->deadline < next) {
            next = c->deadline;
        }
    }
    if (nready)
        return 0;
    return next < 0 ? -1 : (int)((next - t) * 1000) + 1;
}

static int setup_listener(void)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char bound[64], mirror[64];
    int one = 1;
    int fd = socket(opt.listen.ss.ss_family,
                    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&opt.listen.ss, opt.listen.len) < 0 ||
        listen(fd, SOMAXCONN) < 0) {
        logf_("listen: %s", zcio_strerror(-errno));
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    describe(&ss, bound, sizeof bound);
    if (opt.port_file) {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof tmp, "%s.tmp", opt.port_file);
        f = fopen(tmp, "w");
        if (!f || fprintf(f, "%s\n", strrchr(bound, ':') + 1) < 0 ||
            fclose(f) != 0 || rename(tmp, opt.port_file) != 0) {
            logf_("%s: %s", opt.port_file, zcio_strerror(-errno));
            return -1;
        }
    }
    if (opt.mirror_prefix)
        snprintf(mirror, sizeof mirror, "file:%s", opt.mirror_prefix);
    else
        describe(&opt.mirror.ss, mirror, sizeof mirror);
    describe(&opt.primary.ss, bound + strlen(bound) + 1,
             sizeof bound - strlen(bound) - 1);
    logf_("listening on %s, primary %s, mirror %s, mirror buffer %u bytes",
          bound, bound + strlen(bound) + 1, mirror, opt.mirror_buffer);
    return fd;
}

static void dispatch(uint64_t t)
{
    uint32_t s = (uint32_t)(t & 0xffffffff) >> 2;
    struct conn *c = s < opt.max_conns ? slots[s] : NULL;

    /* A connection closed earlier in this batch leaves stale events. */
    if (c && c->gen == t >> 32)
        pump(c);
}

int main(int argc, char **argv)
{
    struct epoll_event events[256];
    sigset_t mask;
    int lfd, sfd, n;
    bool stop = false;

    switch (parse_options(argc, argv)) {
    case 1:
        return 2;
    case 2:
        return 0;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    slots = calloc(opt.max_conns, sizeof *slots);
    ready = calloc(opt.max_conns, sizeof *ready);
    sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!slots || !ready || sfd < 0 || epfd < 0 ||
        (lfd = setup_listener()) < 0)
        return 1;
    struct epoll_event lev = { .events = EPOLLIN | EPOLLET,
                               .data.u64 = TAG_LISTENER };
    struct epoll_event sev = { .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sev);

    while (!stop) {
        n = epoll_wait(epfd, events, 256, expire());
        for (int i = 0; i < n && !stop; i++) {
            if (events[i].data.u64 == TAG_LISTENER)
                accept_all(lfd);
            else if (events[i].data.u64 == TAG_SIGNAL)
                stop = true;
            else
                dispatch(events[i].data.u64);
        }
        /* Budget-limited connections go after everyone who waited. */
        uint32_t turn = nready;
        uint32_t *list = malloc(turn * sizeof *list + 1);
        memcpy(list, ready, turn * sizeof *list);
        nready = 0;
        for (uint32_t i = 0; i < turn && !stop; i++) {
            struct conn *c = slots[list[i]];
            if (c && c->queued) {
                c->queued = false;
                pump(c);
            }
        }
        free(list);
    }

    logf_("shutting down, closing %u connections", live);
    for (uint32_t s = 0; s < opt.max_conns; s++)
        if (slots[s])
            conn_close(slots[s], "shutdown");
    logf_("stopped: %" PRIu64 " connections, %" PRIu64 " refused, mirror "
          "complete %" PRIu64 ", cut %" PRIu64 ", failed %" PRIu64
          "; %" PRIu64 " bytes to primary, %" PRIu64 " to mirror",
          count.conns, count.refused, count.complete, count.cut,
          count.failed, count.to_primary, count.to_mirror);
    close(lfd);
    close(sfd);
    close(epfd);
    free(slots);
    free(ready);
    return 0;
}
