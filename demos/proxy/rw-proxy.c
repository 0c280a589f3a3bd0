/* rw-proxy: the baseline for bench-proxy.py, a TCP proxy that copies each
 * direction through a 64 KiB user-space buffer with read(2) and write(2),
 * one blocking thread per direction, as the simplest proxies do. Not a demo
 * of zcio: it does not use it.
 *
 * usage: rw-proxy [--buffer BYTES] [--port-file PATH] LISTEN_PORT
 *                 UPSTREAM_HOST UPSTREAM_PORT
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t buffer_size = 64 * 1024;
static struct addrinfo *upstream;

struct pump {
    int from;
    int to;
    int *refs; /* both directions share the sockets; the last one closes */
    pthread_mutex_t *lock;
};

static void release(struct pump *p)
{
    int last;

    pthread_mutex_lock(p->lock);
    last = --*p->refs == 0;
    pthread_mutex_unlock(p->lock);
    if (last) {
        close(p->from);
        close(p->to);
        free(p->refs);
        pthread_mutex_destroy(p->lock);
        free(p->lock);
    }
    free(p);
}

static void *run(void *arg)
{
    struct pump *p = arg;
    char *buf = malloc(buffer_size);
    ssize_t n;

    while (buf && (n = read(p->from, buf, buffer_size)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        for (ssize_t done = 0, w; done < n; done += w) {
            w = write(p->to, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                w = 0;
            else if (w < 0)
                goto out;
        }
    }
    shutdown(p->to, SHUT_WR);
out:
    free(buf);
    release(p);
    return NULL;
}

static void start(int client)
{
    int up = socket(upstream->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int *refs = malloc(sizeof *refs);
    pthread_mutex_t *lock = malloc(sizeof *lock);
    struct pump *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    pthread_t t;

    if (up < 0 || connect(up, upstream->ai_addr, upstream->ai_addrlen) < 0) {
        fprintf(stderr, "rw-proxy: connect: %s\n", strerror(errno));
        close(client);
        if (up >= 0)
            close(up);
        free(refs), free(lock), free(a), free(b);
        return;
    }
    *refs = 2;
    pthread_mutex_init(lock, NULL);
    *a = (struct pump){ client, up, refs, lock };
    *b = (struct pump){ up, client, refs, lock };
    pthread_create(&t, NULL, run, a);
    pthread_detach(t);
    pthread_create(&t, NULL, run, b);
    pthread_detach(t);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t len = sizeof addr;
    const char *port_file = NULL;
    int lfd, one = 1;

    for (; argc > 4 && argv[1][0] == '-'; argc -= 2, argv += 2) {
        if (strcmp(argv[1], "--buffer") == 0)
            buffer_size = strtoul(argv[2], NULL, 0);
        else if (strcmp(argv[1], "--port-file") == 0)
            port_file = argv[2];
    }
    if (argc != 4 || buffer_size == 0 ||
        getaddrinfo(argv[2], argv[3], NULL, &upstream) != 0) {
        fprintf(stderr, "usage: rw-proxy [--buffer BYTES] [--port-file P] "
                        "LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "rw-proxy: listen: %s\n", strerror(errno));
        return 1;
    }
    getsockname(lfd, (struct sockaddr *)&addr, &len);
    if (port_file) {
        FILE *f = fopen(port_file, "w");
        if (!f || fprintf(f, "%u\n", ntohs(addr.sin_port)) < 0 || fclose(f))
            return 1;
    }
    for (;;) {
        int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

        if (c >= 0)
            start(c);
        else if (errno != EINTR)
            fprintf(stderr, "rw-proxy: accept: %s\n", strerror(errno));
    }
}
