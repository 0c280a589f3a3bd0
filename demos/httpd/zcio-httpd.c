/*
 * zcio-httpd: a static file server on one epoll loop. Requests are parsed
 * by http-parser, files are opened beneath one root with openat2, and every
 * body goes from the file to the socket through a zcio_transfer, one budget
 * at a time, so no client can hold up another.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <zcio.h>

#define PROG "zcio-httpd"
#define EXIT_USAGE 2
#define MIB (1024u * 1024u)

/* Bytes read from a socket at once; parsed bytes are not kept. */
#define IN_CAP 8192
/* Longest request target (414 past it) and request head (431 past it). */
#define MAX_URI 4096
#define MAX_HEAD 16384
#define RANGE_CAP 128
#define FIELD_CAP 16
#define OUT_CAP 1024
#define PEER_CAP 64
/* A closing connection reads and drops at most this much of what follows. */
#define LINGER_MAX MIB
#define MAX_EVENTS 256
#define ACCEPT_BURST 64
#define ACCEPT_RETRY_MS 1000
#define LOG_PATH_MAX 200

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_CONNS 1024
#define DEFAULT_IDLE_S 30
#define DEFAULT_BUDGET MIB

enum conn_state {
    ST_READ,   /* waiting for (the rest of) a request */
    ST_HEAD,   /* sending the status line and headers */
    ST_BODY,   /* sending the file through the transfer */
    ST_LINGER, /* response sent, write side shut: draining until EOF */
};

/* Headers the server looks at; every other one is skipped. */
enum header_id { H_OTHER, H_RANGE, H_IF_RANGE };

struct conn {
    int fd;
    enum conn_state state;
    bool readable;
    bool writable;
    bool closed;
    bool queued;
    bool corked;
    char peer[PEER_CAP];

    /* The timer list (ordered by deadline) and the run queue. */
    struct conn *t_prev, *t_next;
    struct conn *q_prev, *q_next;
    struct conn *dead_next;
    uint64_t deadline;

    http_parser parser;
    char in[IN_CAP];
    size_t in_len;
    size_t head_bytes;
    size_t linger_bytes;

    /* The request being parsed; reset by on_message_begin. */
    char url[MAX_URI + 1];
    size_t url_len;
    bool have_method;
    char field[FIELD_CAP];
    size_t field_len;
    bool in_value;
    enum header_id header;
    char range[RANGE_CAP];
    size_t range_len;
    bool range_bad;
    bool if_range;
    bool mid_request;
    bool headers_done;
    bool keep_alive_req;
    int error_status;

    /* The response being sent. */
    int status;
    bool keep_alive;
    char out[OUT_CAP];
    size_t out_len;
    size_t out_off;
    int file_fd;
    zcio_transfer *xfer;
    uint64_t body_len;
    uint64_t body_sent;
    uint32_t mechanism;
};

struct options {
    const char *root;
    const char *listen;
    const char *port_file;
    unsigned max_conns;
    unsigned idle_s;
    uint64_t budget;
    bool realpath_only;
};

struct server {
    struct options opt;
    int epfd;
    int listen_fd;
    int signal_fd;
    int root_fd;
    char root_real[PATH_MAX];
    bool use_openat2;
    bool accept_paused;
    uint64_t accept_retry_at;
    bool stop;
    uint64_t now;
    unsigned nconns;
    struct conn *t_head, *t_tail;
    struct conn *q_head, *q_tail;
    struct conn *dead;
};

/* Tags for the two descriptors that are not connections. */
static char listen_tag, signal_tag;

static http_parser_settings parser_settings;

/* Formats one line and writes it at once, so lines never interleave. */
static void vlog(const char *fmt, va_list ap)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s: ", PROG);

    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

static void log_msg(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
}

static _Noreturn void die(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(fmt, ap);
    va_end(ap);
    exit(status);
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
    fputs("Usage: " PROG " --root DIR [OPTION]...\n"
          "Serve the files beneath DIR over HTTP/1.1 (GET and HEAD,\n"
          "keep-alive, single byte ranges), sending every body with\n"
          "zcio_transfer from the file to the socket.\n"
          "\n"
          "  -r, --root=DIR          directory to serve; nothing outside it\n"
          "                          is ever returned (required)\n"
          "  -l, --listen=ADDR:PORT  address to listen on (default "
          DEFAULT_LISTEN ");\n"
          "                          [ADDR]:PORT for IPv6, port 0 for any\n"
          "                          free port\n"
          "  -p, --port-file=PATH    write the bound port to PATH once\n"
          "                          listening\n"
          "  -c, --max-conns=N       most connections at once (default "
          "1024);\n"
          "                          past it new ones wait in the backlog\n"
          "  -t, --idle-timeout=SEC  close a connection that has not sent a\n"
          "                          whole request, or taken any byte, for\n"
          "                          SEC seconds (default 30)\n"
          "  -b, --budget=SIZE       most body bytes one connection sends\n"
          "                          before the others get a turn; K and M\n"
          "                          suffixes (default 1M)\n"
          "      --resolve=MODE      openat2 (default where the kernel has\n"
          "                          it) or realpath, the fallback, which\n"
          "                          checks the resolved path's prefix\n"
          "  -h, --help              print this help and exit\n"
          "\n"
          "One line per request goes to stderr: peer, method, path, status,\n"
          "body bytes sent and the zcio mechanism that sent them.\n"
          "SIGINT or SIGTERM closes every connection and exits 0.\n"
          "Exit status: 0 after a signal, 1 on a runtime failure, 2 on a\n"
          "usage error.\n",
          stdout);
}

static uint64_t clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A decimal number in [min, max], with an optional K or M suffix. */
static bool parse_number(const char *s, bool suffix, uint64_t min,
                         uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return false;
    if (suffix && (*end == 'K' || *end == 'k') && v <= UINT64_MAX >> 10) {
        v <<= 10;
        end++;
    } else if (suffix && (*end == 'M' || *end == 'm') &&
               v <= UINT64_MAX >> 20) {
        v <<= 20;
        end++;
    }
    if (*end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static void parse_option(struct options *o, int c, const char *arg)
{
    uint64_t v;

    if (c == 'r') {
        o->root = arg;
    } else if (c == 'l') {
        o->listen = arg;
    } else if (c == 'p') {
        o->port_file = arg;
    } else if (c == 'c') {
        if (!parse_number(arg, false, 1, 1000000, &v))
            usage_error("invalid --max-conns '%s': expected 1 to 1000000",
                        arg);
        o->max_conns = (unsigned)v;
    } else if (c == 't') {
        if (!parse_number(arg, false, 1, 86400, &v))
            usage_error("invalid --idle-timeout '%s': expected 1 to 86400 "
                        "seconds", arg);
        o->idle_s = (unsigned)v;
    } else if (c == 'b') {
        if (!parse_number(arg, true, 4096, 1024ull * MIB, &v))
            usage_error("invalid --budget '%s': expected 4K to 1024M", arg);
        o->budget = v;
    } else if (c == 'R') {
        if (strcmp(arg, "openat2") != 0 && strcmp(arg, "realpath") != 0)
            usage_error("invalid --resolve '%s': expected openat2 or "
                        "realpath", arg);
        o->realpath_only = strcmp(arg, "realpath") == 0;
    }
}

static void parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        { "root", required_argument, NULL, 'r' },
        { "listen", required_argument, NULL, 'l' },
        { "port-file", required_argument, NULL, 'p' },
        { "max-conns", required_argument, NULL, 'c' },
        { "idle-timeout", required_argument, NULL, 't' },
        { "budget", required_argument, NULL, 'b' },
        { "resolve", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    *o = (struct options){ .listen = DEFAULT_LISTEN,
                           .max_conns = DEFAULT_MAX_CONNS,
                           .idle_s = DEFAULT_IDLE_S,
                           .budget = DEFAULT_BUDGET };
    while ((c = getopt_long(argc, argv, "r:l:p:c:t:b:h", longopts, NULL)) !=
           -1) {
        if (c == 'h') {
            usage();
            exit(0);
        }
        if (c == '?') {
            fputs("Try '" PROG " --help' for more information.\n", stderr);
            exit(EXIT_USAGE);
        }
        parse_option(o, c, optarg);
    }
    if (optind < argc)
        usage_error("unexpected argument '%s'", argv[optind]);
    if (o->root == NULL)
        usage_error("--root DIR is required: the directory to serve");
}

/* Splits ADDR:PORT or [ADDR]:PORT and resolves it without DNS. */
static void parse_listen(const char *spec, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    size_t hlen = colon ? (size_t)(colon - spec) : 0;
    struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
                              .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai;
    uint64_t port;
    int rc;

    if (colon == NULL || hlen == 0 || hlen >= sizeof host)
        usage_error("invalid --listen '%s': expected ADDR:PORT", spec);
    if (!parse_number(colon + 1, false, 0, 65535, &port))
        usage_error("invalid port in --listen '%s': expected 0 to 65535",
                    spec);
    if (spec[0] == '[' && colon[-1] == ']') {
        spec++;
        hlen -= 2;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0)
        usage_error("invalid address '%s' in --listen: %s", host,
                    gai_strerror(rc));
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
}

/* "host:port" or "[host]:port" of a socket address. */
static void format_addr(const struct sockaddr_storage *ss, char *buf,
                        size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        snprintf(buf, cap, "%s:%u", host, port);
        return;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    snprintf(buf, cap, "[%s]:%u", host, port);
}

/* Written to a temporary name first, so a reader never sees half of it. */
static void write_port_file(const char *path, unsigned port)
{
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        die(1, "--port-file '%s': name too long", path);
    f = fopen(tmp, "w");
    if (f == NULL)
        die(1, "cannot write --port-file '%s': %s", tmp, strerror(errno));
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        die(1, "cannot write --port-file '%s': %s", path, strerror(errno));
}

static void open_listener(struct server *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char addr[PEER_CAP];
    int one = 1;

    parse_listen(s->opt.listen, &ss, &len);
    s->listen_fd = socket(ss.ss_family,
                          SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0)
        die(1, "socket: %s", strerror(errno));
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s->listen_fd, (struct sockaddr *)&ss, len) < 0)
        die(1, "cannot listen on %s: bind: %s", s->opt.listen,
            strerror(errno));
    if (listen(s->listen_fd, SOMAXCONN) < 0)
        die(1, "cannot listen on %s: %s", s->opt.listen, strerror(errno));

    len = sizeof ss;
    getsockname(s->listen_fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, addr, sizeof addr);
    log_msg("listening on %s, serving %s (%s)", addr, s->root_real,
            s->use_openat2 ? "openat2 RESOLVE_BENEATH" : "realpath check");
    if (s->opt.port_file != NULL)
        write_port_file(s->opt.port_file,
                        ntohs(ss.ss_family == AF_INET
                                  ? ((struct sockaddr_in *)&ss)->sin_port
                                  : ((struct sockaddr_in6 *)&ss)->sin6_port));
}

static int sys_openat2(int dirfd, const char *path, uint64_t flags,
                       uint64_t resolve)
{
#ifdef SYS_openat2
    struct open_how how = { .flags = flags, .resolve = resolve };

    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
#else
    (void)dirfd, (void)path, (void)flags, (void)resolve;
    errno = ENOSYS;
    return -1;
#endif
}

static void open_root(struct server *s)
{
    struct stat st;
    int fd;

    if (realpath(s->opt.root, s->root_real) == NULL)
        die(EXIT_USAGE, "cannot serve --root '%s': %s", s->opt.root,
            strerror(errno));
    s->root_fd = open(s->root_real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->root_fd < 0 || fstat(s->root_fd, &st) < 0)
        die(EXIT_USAGE, "cannot serve --root '%s': %s", s->opt.root,
            strerror(errno));

    /* Probe once: kernels before 5.6 say ENOSYS, seccomp may say EPERM. */
    s->use_openat2 = false;
    if (s->opt.realpath_only)
        return;
    fd = sys_openat2(s->root_fd, ".", O_RDONLY | O_CLOEXEC,
                     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    if (fd >= 0) {
        s->use_openat2 = true;
        close(fd);
        return;
    }
    log_msg("openat2 unavailable (%s): falling back to realpath checks",
            strerror(errno));
}

/* --- Timers and the run queue --------------------------------------- */

static void timer_unlink(struct server *s, struct conn *c)
{
    if (c->t_prev)
        c->t_prev->t_next = c->t_next;
    else if (s->t_head == c)
        s->t_head = c->t_next;
    if (c->t_next)
        c->t_next->t_prev = c->t_prev;
    else if (s->t_tail == c)
        s->t_tail = c->t_prev;
    c->t_prev = c->t_next = NULL;
}

/*
 * Every deadline is now plus the same timeout, so appending keeps the list
 * sorted and the first entry is always the next to expire.
 */
static void timer_touch(struct server *s, struct conn *c)
{
    timer_unlink(s, c);
    c->deadline = s->now + (uint64_t)s->opt.idle_s * 1000u;
    c->t_prev = s->t_tail;
    if (s->t_tail)
        s->t_tail->t_next = c;
    else
        s->t_head = c;
    s->t_tail = c;
}

static void runq_push(struct server *s, struct conn *c)
{
    if (c->queued)
        return;
    c->queued = true;
    c->q_next = NULL;
    c->q_prev = s->q_tail;
    if (s->q_tail)
        s->q_tail->q_next = c;
    else
        s->q_head = c;
    s->q_tail = c;
}

static void runq_remove(struct server *s, struct conn *c)
{
    if (!c->queued)
        return;
    if (c->q_prev)
        c->q_prev->q_next = c->q_next;
    else
        s->q_head = c->q_next;
    if (c->q_next)
        c->q_next->q_prev = c->q_prev;
    else
        s->q_tail = c->q_prev;
    c->q_prev = c->q_next = NULL;
    c->queued = false;
}

/* --- Connections ---------------------------------------------------- */

static void response_release(struct conn *c)
{
    zcio_transfer_free(c->xfer);
    c->xfer = NULL;
    if (c->file_fd >= 0)
        close(c->file_fd);
    c->file_fd = -1;
}

/*
 * Closes the descriptors at once but frees the memory only after the
 * current batch of epoll events, which may still name this connection.
 */
static void conn_close(struct server *s, struct conn *c)
{
    if (c->closed)
        return;
    response_release(c);
    close(c->fd);
    c->closed = true;
    timer_unlink(s, c);
    runq_remove(s, c);
    c->dead_next = s->dead;
    s->dead = c;
    s->nconns--;
    if (s->accept_paused && s->nconns < s->opt.max_conns)
        s->accept_retry_at = s->now;
}

/* Logs the request or event on c with its peer; fmt continues the line. */
static void conn_log(const struct conn *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_msg("%s %s", c->peer, line);
}

static void conn_fail(struct server *s, struct conn *c, const char *what,
                      int err)
{
    conn_log(c, "closed: %s: %s", what, strerror(err));
    conn_close(s, c);
}

/* --- Parsing --------------------------------------------------------- */

static struct conn *parser_conn(http_parser *p)
{
    return p->data;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = parser_conn(p);

    c->url_len = 0;
    c->have_method = false;
    c->field_len = 0;
    c->in_value = false;
    c->header = H_OTHER;
    c->range_len = 0;
    c->range_bad = false;
    c->if_range = false;
    c->mid_request = true;
    c->headers_done = false;
    c->keep_alive_req = false;
    c->error_status = 0;
    c->head_bytes = 0;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);

    c->have_method = true;
    if (c->url_len + len > MAX_URI) {
        c->error_status = 414;
        return 1;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    c->url[c->url_len] = '\0';
    return 0;
}

/* A field name may arrive in pieces; only short names matter here. */
static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);

    if (c->in_value) {
        c->in_value = false;
        c->field_len = 0;
    }
    if (c->field_len + len < FIELD_CAP)
        memcpy(c->field + c->field_len, at, len);
    c->field_len += len;
    return 0;
}

static enum header_id header_id(const struct conn *c)
{
    if (c->field_len == 5 && strncasecmp(c->field, "range", 5) == 0)
        return H_RANGE;
    if (c->field_len == 8 && strncasecmp(c->field, "if-range", 8) == 0)
        return H_IF_RANGE;
    return H_OTHER;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct conn *c = parser_conn(p);

    if (!c->in_value) {
        c->in_value = true;
        c->header = header_id(c);
        if (c->header == H_RANGE && c->range_len > 0)
            c->range_bad = true; /* a second Range header */
    }
    if (c->header == H_IF_RANGE)
        c->if_range = true;
    if (c->header != H_RANGE)
        return 0;
    if (c->range_len + len >= RANGE_CAP) {
        c->range_bad = true;
        return 0;
    }
    memcpy(c->range + c->range_len, at, len);
    c->range_len += len;
    c->range[c->range_len] = '\0';
    return 0;
}

/*
 * Other methods are refused before their body is read; the connection is
 * closed after the answer, so the body never has to be parsed.
 */
static int on_headers_complete(http_parser *p)
{
    struct conn *c = parser_conn(p);

    c->headers_done = true;
    if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        c->error_status = 405;
        http_parser_pause(p, 1);
    }
    return 0;
}

/* Pausing stops the parser right after this request: one at a time. */
static int on_message_complete(http_parser *p)
{
    struct conn *c = parser_conn(p);

    c->keep_alive_req = http_should_keep_alive(p) && !p->upgrade;
    http_parser_pause(p, 1);
    return 0;
}

static void init_parser_settings(void)
{
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_message_complete = on_message_complete;
}

/* --- Requests -------------------------------------------------------- */

struct mime {
    const char *ext;
    const char *type;
};

static const struct mime mime_types[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "ico", "image/vnd.microsoft.icon" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "tar", "application/x-tar" },
};

static const char *mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');

    if (dot != NULL && dot[1] != '\0') {
        for (size_t i = 0; i < sizeof mime_types / sizeof *mime_types; i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    }
    return "application/octet-stream";
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

static int hex_value(char h)
{
    if (h >= '0' && h <= '9')
        return h - '0';
    h = (char)tolower((unsigned char)h);
    if (h >= 'a' && h <= 'f')
        return h - 'a' + 10;
    return -1;
}

/* Percent-decodes src[0..len) into dst; NUL bytes and bad escapes fail. */
static bool percent_decode(const char *src, size_t len, char *dst,
                           size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)src[i];

        if (ch == '%') {
            int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
            int lo = hi >= 0 ? hex_value(src[i + 2]) : -1;

            if (lo < 0)
                return false;
            ch = hi << 4 | lo;
            i += 2;
        }
        if (ch == '\0' || o + 1 >= cap)
            return false;
        dst[o++] = (char)ch;
    }
    dst[o] = '\0';
    return true;
}

/*
 * Turns the decoded path into one relative to the root, dropping empty and
 * "." segments. A ".." segment is refused outright, never resolved: no
 * request may climb, even back into the root.
 */
static int normalize_path(const char *path, char *rel, size_t cap)
{
    size_t o = 0;
    const char *seg = path;

    while (*seg != '\0') {
        const char *end = strchrnul(seg, '/');
        size_t n = (size_t)(end - seg);

        if (n == 2 && seg[0] == '.' && seg[1] == '.')
            return 403;
        if (n > 0 && !(n == 1 && seg[0] == '.')) {
            if (o + n + 2 > cap)
                return 414;
            if (o > 0)
                rel[o++] = '/';
            memcpy(rel + o, seg, n);
            o += n;
        }
        seg = *end ? end + 1 : end;
    }
    if (o == 0)
        rel[o++] = '.';
    rel[o] = '\0';
    return 0;
}

/* The request target to a root-relative path, or the status refusing it. */
static int target_to_relpath(const struct conn *c, char *rel, size_t cap)
{
    struct http_parser_url u;
    char decoded[MAX_URI + 1];
    const char *path;
    size_t len;

    http_parser_url_init(&u);
    if (http_parser_parse_url(c->url, c->url_len, 0, &u) != 0 ||
        !(u.field_set & (1 << UF_PATH)))
        return 400;
    path = c->url + u.field_data[UF_PATH].off;
    len = u.field_data[UF_PATH].len;
    if (len == 0 || path[0] != '/')
        return 400;
    if (!percent_decode(path, len, decoded, sizeof decoded))
        return 400;
    return normalize_path(decoded, rel, cap);
}

static int errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EXDEV:
    case ELOOP:
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
        return 503;
    default:
        return 500;
    }
}

/*
 * The fallback where openat2 is missing: resolve every symlink and check
 * the result still lies inside the root. A symlink swapped between the
 * check and the open could still escape; openat2 has no such window.
 */
static int open_by_realpath(const struct server *s, const char *rel)
{
    char joined[PATH_MAX * 2], resolved[PATH_MAX];
    size_t rlen = strlen(s->root_real);

    snprintf(joined, sizeof joined, "%s/%s", s->root_real, rel);
    if (realpath(joined, resolved) == NULL)
        return -1;
    if (strncmp(resolved, s->root_real, rlen) != 0 ||
        (resolved[rlen] != '/' && resolved[rlen] != '\0' &&
         !(rlen == 1 && s->root_real[0] == '/'))) {
        errno = EXDEV;
        return -1;
    }
    return open(resolved, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
}

/*
 * Opens rel beneath the root. O_NONBLOCK keeps a FIFO from blocking the
 * loop; only regular files are served. Returns the descriptor or -status.
 */
static int open_beneath(const struct server *s, const char *rel,
                        struct stat *st)
{
    int fd;

    if (s->use_openat2)
        fd = sys_openat2(s->root_fd, rel,
                         O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                         RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
    else
        fd = open_by_realpath(s, rel);
    if (fd < 0)
        return -errno_status(errno);
    if (fstat(fd, st) < 0) {
        close(fd);
        return -500;
    }
    return fd;
}

/* Opens the file for rel, or the index.html of a directory. */
static int open_target(const struct server *s, const char *rel,
                       struct stat *st, char *index, size_t cap)
{
    int fd = open_beneath(s, rel, st);

    if (fd >= 0 && S_ISDIR(st->st_mode)) {
        close(fd);
        snprintf(index, cap, "%s/index.html", rel);
        fd = open_beneath(s, index, st);
        if (fd == -404)
            return -403; /* no listing of directories */
    }
    if (fd >= 0 && !S_ISREG(st->st_mode)) {
        close(fd);
        return -403;
    }
    return fd;
}

/* Reads a decimal number, saturating at UINT64_MAX; false without one. */
static bool range_number(const char **p, uint64_t *out)
{
    uint64_t v = 0;

    if (!isdigit((unsigned char)**p))
        return false;
    for (; isdigit((unsigned char)**p); (*p)++) {
        unsigned d = (unsigned)(**p - '0');

        v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    }
    *out = v;
    return true;
}

/*
 * One "bytes=" range against a file of size bytes. Returns 206 with the
 * span, 416 when unsatisfiable, or 200 to ignore it: RFC 9110 lets a
 * server ignore a malformed Range or one with several ranges.
 */
static int parse_range(const char *v, uint64_t size, uint64_t *off,
                       uint64_t *len)
{
    uint64_t first = 0, last = UINT64_MAX;
    bool suffix;

    while (*v == ' ' || *v == '\t')
        v++;
    if (strncasecmp(v, "bytes=", 6) != 0)
        return 200;
    v += 6;
    suffix = *v == '-';
    if (!suffix && !range_number(&v, &first))
        return 200;
    if (*v++ != '-')
        return 200;
    if (isdigit((unsigned char)*v) && !range_number(&v, &last))
        return 200;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v != '\0' || (suffix && last == UINT64_MAX) ||
        (!suffix && last < first))
        return 200;

    if (suffix) {
        if (last == 0 || size == 0)
            return 416;
        first = last >= size ? 0 : size - last;
        last = size - 1;
    }
    if (first >= size)
        return 416;
    *off = first;
    *len = (last >= size ? size - 1 : last) - first + 1;
    return 206;
}

static void http_date(char *buf, size_t cap)
{
    static time_t cached_at;
    static char cached[64];
    time_t now = time(NULL);
    struct tm tm;

    if (now != cached_at) {
        gmtime_r(&now, &tm);
        strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_at = now;
    }
    snprintf(buf, cap, "%s", cached);
}

/* Appends to the response head; the head always fits in OUT_CAP. */
static void out_add(struct conn *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(c->out + c->out_len, OUT_CAP - c->out_len, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->out_len = c->out_len + (size_t)n < OUT_CAP
                         ? c->out_len + (size_t)n
                         : OUT_CAP - 1;
}

static void head_start(struct conn *c, int status)
{
    char date[64];

    http_date(date, sizeof date);
    c->status = status;
    c->out_len = c->out_off = 0;
    out_add(c, "HTTP/1.1 %d %s\r\nServer: " PROG "\r\nDate: %s\r\n", status,
            status_text(status), date);
}

static void head_end(struct conn *c)
{
    out_add(c, "Connection: %s\r\n\r\n",
            c->keep_alive ? "keep-alive" : "close");
}

/* An error answer: a one-line text body in the same buffer as the head. */
static void respond_error(struct conn *c, int status, bool head_only,
                          uint64_t size)
{
    char body[64];
    int n = snprintf(body, sizeof body, "%d %s\n", status,
                     status_text(status));

    if (status >= 500 || status == 400 || status == 405 || status == 414 ||
        status == 431)
        c->keep_alive = false;
    head_start(c, status);
    out_add(c, "Content-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %d\r\n", n);
    if (status == 405)
        out_add(c, "Allow: GET, HEAD\r\n");
    if (status == 416)
        out_add(c, "Content-Range: bytes */%" PRIu64 "\r\n", size);
    head_end(c);
    c->body_len = 0;
    if (!head_only) {
        out_add(c, "%s", body);
        c->body_len = (uint64_t)n;
    }
    c->state = ST_HEAD;
}

static int start_body(struct server *s, struct conn *c, int fd, uint64_t off,
                      uint64_t len)
{
    int64_t start = (int64_t)off;
    zcio_copy_opts opts = { .size = sizeof opts, .in_offset = &start,
                            .budget = s->opt.budget };
    int rc = zcio_transfer_new(c->fd, fd, len, &opts, &c->xfer);

    if (rc < 0) {
        conn_log(c, "zcio_transfer_new: %s", zcio_strerror(rc));
        close(fd);
        return rc;
    }
    c->file_fd = fd;
    c->body_len = len;
    return 0;
}

/* Answers a GET or HEAD for an open regular file. */
static void respond_file(struct server *s, struct conn *c, int fd,
                         const struct stat *st, const char *name)
{
    uint64_t size = (uint64_t)st->st_size, off = 0, len = size;
    bool head_only = c->parser.method == HTTP_HEAD;
    int status = 200;

    if (c->range_len > 0 && !c->range_bad && !c->if_range)
        status = parse_range(c->range, size, &off, &len);
    if (status == 416) {
        close(fd);
        respond_error(c, 416, head_only, size);
        return;
    }
    if (!head_only && len > 0 && start_body(s, c, fd, off, len) < 0) {
        respond_error(c, 500, head_only, 0);
        return;
    }
    if (c->xfer == NULL)
        close(fd);
    head_start(c, status);
    out_add(c, "Content-Type: %s\r\nContent-Length: %" PRIu64 "\r\n"
               "Accept-Ranges: bytes\r\n", mime_type(name), len);
    if (status == 206)
        out_add(c, "Content-Range: bytes %" PRIu64 "-%" PRIu64
                   "/%" PRIu64 "\r\n", off, off + len - 1, size);
    head_end(c);
    c->state = ST_HEAD;
}

static void handle_request(struct server *s, struct conn *c)
{
    char rel[MAX_URI + 16], index[MAX_URI + 32];
    bool head_only = c->parser.method == HTTP_HEAD;
    struct stat st;
    int status, fd;

    c->keep_alive = c->keep_alive_req;
    status = target_to_relpath(c, rel, sizeof rel);
    if (status != 0) {
        respond_error(c, status, head_only, 0);
        return;
    }
    index[0] = '\0';
    fd = open_target(s, rel, &st, index, sizeof index);
    if (fd < 0) {
        respond_error(c, -fd, head_only, 0);
        return;
    }
    respond_file(s, c, fd, &st, index[0] ? index : rel);
}

/* --- Sending --------------------------------------------------------- */

static void set_cork(struct conn *c, bool on)
{
    int v = on;

    if (c->corked == on)
        return;
    setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &v, sizeof v);
    c->corked = on;
}

static const char *mechanism_name(uint32_t m)
{
    switch (m) {
    case ZCIO_MECH_SENDFILE: return "sendfile";
    case ZCIO_MECH_SPLICE: return "splice";
    case ZCIO_MECH_READ_WRITE: return "read_write";
    case ZCIO_MECH_COPY_FILE_RANGE: return "copy_file_range";
    default: return "-";
    }
}

/* The request target for the log: printable, quoted, and cut short. */
static void log_target(const struct conn *c, char *buf, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < c->url_len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)c->url[i];

        if (i == LOG_PATH_MAX) {
            o += (size_t)snprintf(buf + o, cap - o, "...");
            break;
        }
        if (isprint(ch) && ch != '"' && ch != '\\')
            buf[o++] = (char)ch;
        else
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", ch);
    }
    buf[o] = '\0';
}

/* The one line per request: method, path, status, body bytes, mechanism. */
static void log_request(const struct conn *c, const char *error)
{
    char target[LOG_PATH_MAX * 4 + 8];
    const char *method = c->have_method
                             ? http_method_str(c->parser.method)
                             : "-";

    log_target(c, target, sizeof target);
    if (target[0] == '\0')
        snprintf(target, sizeof target, "-");
    if (error == NULL) {
        conn_log(c, "\"%s %s\" %d %" PRIu64 " %s", method, target,
                 c->status, c->body_sent, mechanism_name(c->mechanism));
        return;
    }
    conn_log(c, "\"%s %s\" %d %" PRIu64 "/%" PRIu64 " %s: %s", method,
             target, c->status, c->body_sent, c->body_len,
             mechanism_name(c->mechanism), error);
}

/*
 * Closing at once with unread request bytes would send a reset that can
 * destroy the answer in flight, so the write side is shut and what the
 * client still sends is read and dropped until it closes.
 */
static void begin_linger(struct server *s, struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    c->state = ST_LINGER;
    c->linger_bytes = 0;
    c->readable = true;
    timer_touch(s, c);
}

static void finish_response(struct server *s, struct conn *c)
{
    response_release(c);
    set_cork(c, false);
    log_request(c, NULL);
    timer_touch(s, c);
    c->body_sent = c->body_len = 0;
    c->mechanism = ZCIO_MECH_NONE;
    if (!c->keep_alive) {
        begin_linger(s, c);
        return;
    }
    c->state = ST_READ;
    /* A pipelined request waits its turn behind the other connections. */
    if (c->in_len > 0)
        runq_push(s, c);
}

/*
 * The head goes out with MSG_MORE when a body follows, so the kernel
 * waits for the body's first bytes; a body longer than one step is
 * corked instead, so that every step's tail also fills whole segments.
 */
static bool send_head(struct server *s, struct conn *c)
{
    int flags = MSG_NOSIGNAL | (c->xfer ? MSG_MORE : 0);

    if (c->xfer && c->body_len > s->opt.budget)
        set_cork(c, true);
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         flags);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->writable = false;
            return false;
        }
        if (n < 0) {
            log_request(c, zcio_strerror(-errno));
            conn_close(s, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    if (c->xfer) {
        c->state = ST_BODY;
        return true;
    }
    c->body_sent = c->body_len;
    finish_response(s, c);
    return !c->queued && !c->closed;
}

static bool send_body(struct server *s, struct conn *c)
{
    zcio_transfer_progress prog = { .size = sizeof prog };
    int rc = zcio_transfer_step(c->xfer, 0, &prog);

    c->body_sent = prog.written;
    c->mechanism = prog.mechanism;
    if (prog.step_written > 0)
        timer_touch(s, c);
    switch (rc) {
    case ZCIO_OK:
        finish_response(s, c);
        return !c->queued && !c->closed;
    case ZCIO_WANT_WRITE:
        c->writable = false;
        return false;
    case ZCIO_MORE:
    case ZCIO_WANT_READ: /* a regular file is always readable */
        runq_push(s, c);
        return false;
    default:
        log_request(c, zcio_strerror(rc));
        conn_close(s, c);
        return false;
    }
}

/* --- Reading --------------------------------------------------------- */

/* A request the parser refused, or one over a limit, ends the connection. */
static void parse_failed(struct conn *c, int status)
{
    c->keep_alive = false;
    respond_error(c, status, false, 0);
}

/*
 * Feeds the buffered bytes to the parser. Returns true once there is an
 * answer to send; parsed bytes are dropped, a pipelined rest is kept.
 */
static bool parse_input(struct server *s, struct conn *c)
{
    bool was_done = c->headers_done;
    size_t n = http_parser_execute(&c->parser, &parser_settings, c->in,
                                   c->in_len);
    enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);

    if (!was_done)
        c->head_bytes += n;
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;

    if (c->error_status != 0) {
        parse_failed(c, c->error_status);
        return true;
    }
    if (c->head_bytes > MAX_HEAD) {
        parse_failed(c, 431);
        return true;
    }
    if (err == HPE_PAUSED) {
        http_parser_pause(&c->parser, 0);
        c->mid_request = c->headers_done = false;
        handle_request(s, c);
        return true;
    }
    if (err != HPE_OK) {
        parse_failed(c, err == HPE_HEADER_OVERFLOW ? 431 : 400);
        return true;
    }
    return false;
}

static bool read_request(struct server *s, struct conn *c)
{
    for (;;) {
        ssize_t n;

        if (c->in_len > 0 && parse_input(s, c))
            return true;
        if (!c->readable)
            return false;
        n = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == 0) {
            /* A client may close between requests; mid-request is news. */
            if (c->mid_request)
                conn_log(c, "closed by the client mid-request");
            conn_close(s, c);
            return false;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN) {
            c->readable = false;
            return false;
        }
        conn_fail(s, c, "read", errno);
        return false;
    }
}

static void linger_drain(struct server *s, struct conn *c)
{
    char sink[IN_CAP];

    while (c->readable) {
        ssize_t n = read(c->fd, sink, sizeof sink);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            c->readable = false;
            return;
        }
        c->linger_bytes += n > 0 ? (size_t)n : 0;
        if (n <= 0 || c->linger_bytes > LINGER_MAX) {
            conn_close(s, c);
            return;
        }
    }
}

/* Runs the connection's state machine until it has to wait. */
static void conn_drive(struct server *s, struct conn *c)
{
    bool more = true;

    while (more && !c->closed) {
        switch (c->state) {
        case ST_READ:
            more = read_request(s, c);
            break;
        case ST_HEAD:
            more = c->writable && send_head(s, c);
            break;
        case ST_BODY:
            more = c->writable && send_body(s, c);
            break;
        case ST_LINGER:
            linger_drain(s, c);
            more = false;
            break;
        }
    }
}

/* --- The loop -------------------------------------------------------- */

static void conn_accepted(struct server *s, int fd,
                          const struct sockaddr_storage *ss)
{
    struct conn *c = calloc(1, sizeof *c);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP |
                                        EPOLLET };
    int one = 1;

    if (c == NULL) {
        log_msg("accept: out of memory, connection dropped");
        close(fd);
        return;
    }
    c->fd = fd;
    c->file_fd = -1;
    c->writable = true;
    format_addr(ss, c->peer, sizeof c->peer);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ev.data.ptr = c;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_msg("epoll_ctl: %s, connection dropped", strerror(errno));
        close(fd);
        free(c);
        return;
    }
    s->nconns++;
    timer_touch(s, c);
}

static void pause_accept(struct server *s, uint64_t retry_at)
{
    struct epoll_event ev = { .events = 0, .data.ptr = &listen_tag };

    if (!s->accept_paused)
        epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &ev);
    s->accept_paused = true;
    s->accept_retry_at = retry_at;
}

static void resume_accept(struct server *s)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };

    if (!s->accept_paused)
        return;
    s->accept_paused = false;
    epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->listen_fd, &ev);
}

/*
 * Accepts a burst at most, so a flood of connections cannot starve the
 * ones already open. At --max-conns, or out of descriptors, the listener
 * is disarmed until a connection closes (or a second passes).
 */
static void accept_burst(struct server *s)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd;

        if (s->nconns >= s->opt.max_conns) {
            pause_accept(s, UINT64_MAX);
            return;
        }
        fd = accept4(s->listen_fd, (struct sockaddr *)&ss, &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_accepted(s, fd, &ss);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
            errno == ENOMEM) {
            log_msg("accept: %s; pausing new connections", strerror(errno));
            pause_accept(s, s->now + ACCEPT_RETRY_MS);
            return;
        }
        if (errno != EINTR && errno != ECONNABORTED)
            return; /* EAGAIN, or a transient error reported on retry */
    }
}

static void read_signal(struct server *s)
{
    struct signalfd_siginfo si;

    while (read(s->signal_fd, &si, sizeof si) == (ssize_t)sizeof si) {
        log_msg("received SIG%s, shutting down with %u connections open",
                sigabbrev_np((int)si.ssi_signo), s->nconns);
        s->stop = true;
    }
}

static void handle_event(struct server *s, const struct epoll_event *ev)
{
    struct conn *c = ev->data.ptr;

    if (ev->data.ptr == &listen_tag) {
        accept_burst(s);
        return;
    }
    if (ev->data.ptr == &signal_tag) {
        read_signal(s);
        return;
    }
    if (c->closed)
        return;
    if (ev->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        c->readable = true;
    if (ev->events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        c->writable = true;
    /* A queued connection gets its turn from the run queue, not twice. */
    if (!c->queued)
        conn_drive(s, c);
}

/* One turn for each connection queued before this pass began. */
static void run_queue(struct server *s)
{
    struct conn *last = s->q_tail;

    while (s->q_head != NULL) {
        struct conn *c = s->q_head;
        bool was_last = c == last;

        runq_remove(s, c);
        conn_drive(s, c);
        if (was_last)
            break;
    }
}

static void expire_timers(struct server *s)
{
    while (s->t_head != NULL && s->t_head->deadline <= s->now) {
        struct conn *c = s->t_head;

        if (c->state == ST_BODY || c->state == ST_HEAD)
            conn_log(c, "closed: no byte taken in %u s, %" PRIu64
                        " of %" PRIu64 " body bytes sent",
                     s->opt.idle_s, c->body_sent, c->body_len);
        else if (c->state == ST_READ && c->mid_request)
            conn_log(c, "closed: request incomplete after %u s",
                     s->opt.idle_s);
        conn_close(s, c);
    }
}

static int loop_timeout(const struct server *s)
{
    uint64_t next = UINT64_MAX;

    if (s->q_head != NULL)
        return 0;
    if (s->t_head != NULL)
        next = s->t_head->deadline;
    if (s->accept_paused && s->accept_retry_at < next)
        next = s->accept_retry_at;
    if (next == UINT64_MAX)
        return -1;
    return next <= s->now ? 0 : (int)(next - s->now > INT_MAX
                                          ? INT_MAX
                                          : next - s->now);
}

static void free_dead(struct server *s)
{
    while (s->dead != NULL) {
        struct conn *c = s->dead;

        s->dead = c->dead_next;
        free(c);
    }
}

static void run(struct server *s)
{
    struct epoll_event events[MAX_EVENTS];

    while (!s->stop) {
        int n = epoll_wait(s->epfd, events, MAX_EVENTS, loop_timeout(s));

        if (n < 0 && errno != EINTR)
            die(1, "epoll_wait: %s", strerror(errno));
        s->now = clock_ms();
        for (int i = 0; i < n; i++)
            handle_event(s, &events[i]);
        run_queue(s);
        expire_timers(s);
        if (s->accept_paused && s->accept_retry_at <= s->now &&
            s->nconns < s->opt.max_conns)
            resume_accept(s);
        free_dead(s);
    }
}

/*
 * SIGINT and SIGTERM arrive through a signalfd. SIGPIPE is blocked too:
 * every send here says MSG_NOSIGNAL, and with SIGPIPE already blocked
 * zcio_transfer_step skips restoring the signal mask after each step.
 */
static void setup_loop(struct server *s)
{
    struct epoll_event ev = { .events = EPOLLIN };
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGPIPE);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        die(1, "sigprocmask: %s", strerror(errno));
    sigdelset(&set, SIGPIPE);
    s->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->signal_fd < 0 || s->epfd < 0)
        die(1, "signalfd/epoll_create1: %s", strerror(errno));
    ev.data.ptr = &signal_tag;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->signal_fd, &ev) < 0)
        die(1, "epoll_ctl: %s", strerror(errno));
    ev.data.ptr = &listen_tag;
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listen_fd, &ev) < 0)
        die(1, "epoll_ctl: %s", strerror(errno));
}

/* Every connection is closed: a response in flight is cut short. */
static void shutdown_server(struct server *s)
{
    while (s->t_head != NULL) {
        struct conn *c = s->t_head;

        if (c->state == ST_BODY || c->state == ST_HEAD)
            log_request(c, "cut short by shutdown");
        conn_close(s, c);
    }
    free_dead(s);
    close(s->listen_fd);
    close(s->signal_fd);
    close(s->epfd);
    close(s->root_fd);
    log_msg("stopped");
}

int main(int argc, char **argv)
{
    static struct server s;

    parse_args(argc, argv, &s.opt);
    init_parser_settings();
    open_root(&s);
    s.now = clock_ms();
    open_listener(&s);
    setup_loop(&s);
    run(&s);
    shutdown_server(&s);
    return 0;
}
