/* libFuzzer harness: the input is what a client sends zcio-httpd on one
 * connection; the server must answer it without a memory error, a leaked
 * descriptor, a hang, or a byte from outside its root. */

/*
 * The server is compiled into this file as it is, its main() renamed:
 * every function is static, so this is the one way to reach them without
 * changing zcio-httpd.c. It defines _GNU_SOURCE before any header.
 */
#define main zcio_httpd_main
#include "../demos/httpd/zcio-httpd.c"
#undef main

#include <sys/un.h>

#define SECRET "zcio-fuzz-secret-0d1b3c"
#define MAX_TURNS 20000
#define MAX_IDLE_TURNS 200 /* turns without an event, a byte or a close */

static struct server srv;
static char base[] = "/tmp/zcio_httpd_fuzz_XXXXXX";

static void bug(const char *what, const char *detail)
{
    /* stdout: the CTest run closes stderr to silence the server's log. */
    printf("httpd_request_fuzz: %s%s%s\n", what, detail ? ": " : "",
           detail ? detail : "");
    fflush(stdout);
    abort();
}

static void put_file(const char *rel, size_t size, char fill)
{
    char path[PATH_MAX];
    FILE *f;

    snprintf(path, sizeof path, "%s/%s", base, rel);
    f = fopen(path, "w");
    if (f == NULL)
        bug("cannot create", path);
    for (size_t i = 0; i < size; i++)
        fputc(fill + (char)(i % 7), f);
    fclose(f);
}

/* Removes the tree make_root() made, when the fuzzer exits normally. */
static void remove_root(void)
{
    static const char *const names[] = {
        "www/index.html", "www/a.txt", "www/empty", "www/big.bin",
        "www/dir/index.html", "www/fifo", "www/up", "www/abs", "www/dir",
        "www/noindex", "www", "secret.txt", "",
    };
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", base, names[i]);
        if (unlink(path) < 0)
            rmdir(path);
    }
}

/* A root with files of every kind the server distinguishes, and a secret
 * beside it that symlinks inside try to reach. */
static void make_root(void)
{
    char path[PATH_MAX];
    FILE *f;

    if (mkdtemp(base) == NULL)
        bug("mkdtemp", strerror(errno));
    atexit(remove_root);
    snprintf(path, sizeof path, "%s/secret.txt", base);
    f = fopen(path, "w");
    fputs(SECRET "\n", f);
    fclose(f);

    snprintf(path, sizeof path, "%s/www", base);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/www/dir", base);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/www/noindex", base);
    mkdir(path, 0755);
    put_file("www/index.html", 100, 'a');
    put_file("www/a.txt", 1, 'b');
    put_file("www/empty", 0, 'c');
    put_file("www/big.bin", 300 * 1024 + 3, 'd');
    put_file("www/dir/index.html", 5000, 'e');
    snprintf(path, sizeof path, "%s/www/fifo", base);
    mkfifo(path, 0644);
    snprintf(path, sizeof path, "%s/www/up", base);
    if (symlink("../secret.txt", path) < 0)
        bug("symlink", strerror(errno));
    snprintf(path, sizeof path, "%s/www/abs", base);
    {
        char target[PATH_MAX];

        snprintf(target, sizeof target, "%s/secret.txt", base);
        if (symlink(target, path) < 0)
            bug("symlink", strerror(errno));
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char root[sizeof base + 8];
    sigset_t set;

    (void)argc, (void)argv;
    make_root();
    snprintf(root, sizeof root, "%s/www", base);
    srv.opt.root = root;
    srv.opt.max_conns = DEFAULT_MAX_CONNS;
    srv.opt.idle_s = DEFAULT_IDLE_S;
    srv.opt.budget = 64 * 1024; /* small, so big bodies take several turns */
    srv.opt.realpath_only = getenv("ZCIO_FUZZ_REALPATH") != NULL;
    init_parser_settings();
    open_root(&srv);
    srv.listen_fd = srv.signal_fd = -1;
    srv.epfd = epoll_create1(EPOLL_CLOEXEC);
    if (srv.epfd < 0)
        bug("epoll_create1", strerror(errno));

    /* As setup_loop() does: every send says MSG_NOSIGNAL. */
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    sigprocmask(SIG_BLOCK, &set, NULL);
    return 0;
}

static int lowest_free_fd(void)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

    if (fd >= 0)
        close(fd);
    return fd;
}

/* Reads what the server sent; checks that no secret byte is in it. */
static size_t drain_client(int fd, char *tail, size_t *tail_len)
{
    static char buf[65536];
    size_t total = 0;
    ssize_t n;

    while ((n = read(fd, buf, sizeof buf)) > 0) {
        /* The secret may straddle two reads: keep the last bytes. */
        char joined[2 * sizeof SECRET + 65536];
        size_t keep = *tail_len;

        memcpy(joined, tail, keep);
        memcpy(joined + keep, buf, (size_t)n);
        if (memmem(joined, keep + (size_t)n, SECRET, strlen(SECRET)))
            bug("the secret outside the root was served", NULL);
        *tail_len = keep + (size_t)n < sizeof SECRET
                        ? keep + (size_t)n : sizeof SECRET;
        memcpy(tail, joined + keep + (size_t)n - *tail_len, *tail_len);
        total += (size_t)n;
    }
    return total;
}

/* Runs the server's loop, without blocking, until the connection is gone. */
static void serve(int client)
{
    struct epoll_event events[MAX_EVENTS];
    char tail[sizeof SECRET];
    size_t tail_len = 0;
    int idle = 0;

    for (int turn = 0; turn < MAX_TURNS && srv.nconns > 0; turn++) {
        int n = epoll_wait(srv.epfd, events, MAX_EVENTS, 0);
        size_t got;

        srv.now = clock_ms();
        for (int i = 0; i < n; i++)
            handle_event(&srv, &events[i]);
        run_queue(&srv);
        free_dead(&srv);
        got = drain_client(client, tail, &tail_len);
        idle = n > 0 || got > 0 || srv.q_head ? 0 : idle + 1;
        if (idle > MAX_IDLE_TURNS)
            bug("the server stopped with the connection open", NULL);
    }
    if (srv.nconns > 0)
        bug("the connection outlived the turn limit", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sockaddr_storage ss = { .ss_family = AF_UNIX };
    int before = lowest_free_fd();
    int sv[2];
    size_t off = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv) < 0)
        bug("socketpair", strerror(errno));

    /* The whole request, then end of stream: every state must finish. */
    while (off < size) {
        ssize_t n = write(sv[1], data + off, size - off);

        if (n <= 0)
            bug("the request does not fit the socket buffer", NULL);
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);

    srv.now = clock_ms();
    conn_accepted(&srv, sv[0], &ss);
    serve(sv[1]);
    close(sv[1]);
    if (lowest_free_fd() != before)
        bug("a descriptor leaked", NULL);
    return 0;
}
