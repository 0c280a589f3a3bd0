// zcio-proxy: a TCP proxy that moves both directions of every connection
// through zcio transfers (socket to socket: splice through a pooled pipe) on
// one edge-triggered epoll loop, with half-close, a connection limit and a
// connect timeout to the upstream.
#include <arpa/inet.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "zcio.hpp"

namespace {

const char *const prog = "zcio-proxy";
using steady = std::chrono::steady_clock;

void logf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// One line per call, written with a single fprintf so lines never mix.
void logf(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "%s: %s\n", prog, line);
}

// An OS error as zcio describes it.
const char *os_error(int err)
{
    return zcio_strerror(-err);
}

struct options {
    std::string listen;
    std::string upstream;
    std::string port_file;
    size_t max_conns = 1024;
    double connect_timeout = 10.0;
    uint64_t budget = 1 << 20;
    uint32_t pipe_size = 0; // 0: zcio's pool default
};

void usage(FILE *out)
{
    std::fprintf(out,
        "usage: %s [options] LISTEN UPSTREAM\n"
        "Forwards every TCP connection made to LISTEN to UPSTREAM, both\n"
        "directions spliced through zcio transfers. Addresses are HOST:PORT\n"
        "or [IPV6]:PORT; port 0 in LISTEN picks a free port.\n"
        "\n"
        "  -m, --max-conns N         connections at once (default 1024);\n"
        "                            more are accepted and closed at once\n"
        "  -t, --connect-timeout S   seconds to wait for the upstream to\n"
        "                            accept (default 10, fractions allowed)\n"
        "  -b, --budget BYTES        most bytes one direction moves before\n"
        "                            others get a turn (default 1048576)\n"
        "  -s, --pipe-size BYTES     capacity of zcio's pooled splice\n"
        "                            pipes (default: the pool's, 1 MiB)\n"
        "  -p, --port-file PATH      write the bound port there once\n"
        "                            listening\n"
        "  -h, --help                show this help\n"
        "\n"
        "SIGINT or SIGTERM closes every connection and exits 0.\n",
        prog);
}

bool parse_number(const char *s, double min, double max, double *out)
{
    char *end;

    errno = 0;
    *out = std::strtod(s, &end);
    return errno == 0 && end != s && *end == '\0' && *out >= min &&
           *out <= max;
}

// Returns 0 and fills opts, 1 for a usage error, 2 after --help.
int parse_options(int argc, char **argv, options *opts)
{
    static const option longs[] = {
        {"max-conns", required_argument, nullptr, 'm'},
        {"connect-timeout", required_argument, nullptr, 't'},
        {"budget", required_argument, nullptr, 'b'},
        {"pipe-size", required_argument, nullptr, 's'},
        {"port-file", required_argument, nullptr, 'p'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    double v;
    int c;

    opterr = 0; // getopt's messages would not carry the program's name
    while ((c = getopt_long(argc, argv, ":m:t:b:s:p:h", longs, nullptr)) !=
           -1) {
        switch (c) {
        case 'm':
            if (!parse_number(optarg, 1, 1e6, &v))
                return logf("--max-conns wants 1 to 1000000"), 1;
            opts->max_conns = static_cast<size_t>(v);
            break;
        case 't':
            if (!parse_number(optarg, 0.001, 86400, &v))
                return logf("--connect-timeout wants seconds > 0"), 1;
            opts->connect_timeout = v;
            break;
        case 'b':
            if (!parse_number(optarg, 4096, 1e12, &v))
                return logf("--budget wants at least 4096 bytes"), 1;
            opts->budget = static_cast<uint64_t>(v);
            break;
        case 's':
            if (!parse_number(optarg, 4096, 1 << 30, &v))
                return logf("--pipe-size wants 4096 to 1 GiB"), 1;
            opts->pipe_size = static_cast<uint32_t>(v);
            break;
        case 'p':
            opts->port_file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 2;
        case ':':
            return logf("%s needs a value (see --help)", argv[optind - 1]),
                   1;
        default:
            return logf("unknown option %s (see --help)", argv[optind - 1]),
                   1;
        }
    }
    if (argc - optind != 2)
        return logf("want LISTEN and UPSTREAM addresses (see --help)"), 1;
    opts->listen = argv[optind];
    opts->upstream = argv[optind + 1];
    return 0;
}

struct address {
    sockaddr_storage ss{};
    socklen_t len = 0;
};

// Resolves HOST:PORT or [HOST]:PORT; logs and returns false on failure.
bool resolve(const std::string &text, bool passive, address *out)
{
    size_t colon = text.rfind(':');
    std::string host, port;
    addrinfo hints{}, *res = nullptr;
    int rc;

    if (colon == std::string::npos || colon + 1 == text.size()) {
        logf("%s: want HOST:PORT", text.c_str());
        return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);

    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(),
                     &hints, &res);
    if (rc != 0) {
        logf("%s: %s", text.c_str(), gai_strerror(rc));
        return false;
    }
    std::memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

std::string describe(const sockaddr_storage &ss)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (ss.ss_family == AF_INET) {
        auto *in = reinterpret_cast<const sockaddr_in *>(&ss);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        return std::string(host) + ":" + std::to_string(port);
    }
    if (ss.ss_family == AF_INET6) {
        auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
    }
    return "[" + std::string(host) + "]:" + std::to_string(port);
}

const char *mechanism_name(uint32_t mech)
{
    switch (mech) {
    case ZCIO_MECH_SPLICE:
        return "splice";
    case ZCIO_MECH_READ_WRITE:
        return "read/write";
    default:
        return "-";
    }
}

// One direction of a connection: a transfer from one socket to the other.
struct direction {
    zcio::transfer t;
    bool done = false; // end of input reached and passed on as SHUT_WR
};

struct connection {
    uint64_t id = 0;
    zcio::unique_fd client;
    zcio::unique_fd upstream;
    std::string peer;
    bool connected = false;
    bool queued = false; // in the ready queue: a step spent its budget
    steady::time_point start;
    steady::time_point deadline;
    // Declared after the descriptors, so they are freed before the
    // descriptors close, as zcio_transfer_free wants.
    direction up;   // client -> upstream
    direction down; // upstream -> client
};

// epoll tags: 0 the listener, 1 the signalfd, id << 1 | side otherwise.
constexpr uint64_t tag_listener = 0;
constexpr uint64_t tag_signal = 1;

class proxy {
  public:
    explicit proxy(const options &opts) : opts_(opts) {}
    int run();

  private:
    bool setup();
    bool watch(int fd, uint64_t tag, uint32_t events);
    void accept_all();
    void start_connection(zcio::unique_fd client, const sockaddr_storage &ss);
    void on_event(uint64_t tag, uint32_t events);
    void on_connected(connection &c);
    bool pump(connection &c);
    bool pump_one(connection &c, direction &d, int to_fd, const char *what);
    void close_connection(uint64_t id, const std::string &reason);
    void expire_timers();
    int wait_timeout() const;

    options opts_;
    address upstream_addr_;
    std::string upstream_text_;
    zcio::unique_fd epoll_;
    zcio::unique_fd listener_;
    zcio::unique_fd signals_;
    bool accept_paused_ = false;
    bool stopping_ = false;
    uint64_t next_id_ = 1;
    uint64_t closed_ = 0;
    uint64_t refused_ = 0;
    std::unordered_map<uint64_t, std::unique_ptr<connection>> conns_;
    std::deque<uint64_t> ready_;
    std::set<std::pair<steady::time_point, uint64_t>> timers_;
};

bool proxy::watch(int fd, uint64_t tag, uint32_t events)
{
    epoll_event ev{};

    ev.events = events;
    ev.data.u64 = tag;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
        logf("epoll_ctl: %s", os_error(errno));
        return false;
    }
    return true;
}

bool write_port_file(const std::string &path, unsigned port)
{
    std::string tmp = path + ".tmp";
    FILE *f = std::fopen(tmp.c_str(), "w");

    if (!f || std::fprintf(f, "%u\n", port) < 0 || std::fclose(f) != 0 ||
        std::rename(tmp.c_str(), path.c_str()) != 0) {
        logf("%s: %s", path.c_str(), os_error(errno));
        return false;
    }
    return true;
}

bool proxy::setup()
{
    address listen_addr;
    sigset_t mask;
    int one = 1;

    if (opts_.pipe_size) {
        zcio_pool_config pc{};
        pc.size = sizeof pc;
        pc.pipe_size = opts_.pipe_size;
        int rc = zcio_pool_configure(&pc);
        if (rc < 0) {
            logf("zcio_pool_configure: %s", zcio_strerror(rc));
            return false;
        }
    }
    if (!resolve(opts_.listen, true, &listen_addr) ||
        !resolve(opts_.upstream, false, &upstream_addr_))
        return false;
    upstream_text_ = describe(upstream_addr_.ss);

    // Signals arrive through a descriptor, so the loop sees them in order
    // with everything else; no handler runs at an awkward moment.
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signals_.reset(signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    epoll_.reset(epoll_create1(EPOLL_CLOEXEC));
    listener_.reset(socket(listen_addr.ss.ss_family,
                           SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!signals_ || !epoll_ || !listener_) {
        logf("setup: %s", os_error(errno));
        return false;
    }

    setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(listener_.get(), reinterpret_cast<sockaddr *>(&listen_addr.ss),
             listen_addr.len) < 0 ||
        listen(listener_.get(), SOMAXCONN) < 0) {
        logf("listen on %s: %s", opts_.listen.c_str(), os_error(errno));
        return false;
    }
    socklen_t len = sizeof listen_addr.ss;
    getsockname(listener_.get(), reinterpret_cast<sockaddr *>(&listen_addr.ss),
                &len);
    std::string bound = describe(listen_addr.ss);
    unsigned port = static_cast<unsigned>(
        std::stoul(bound.substr(bound.rfind(':') + 1)));
    if (!opts_.port_file.empty() && !write_port_file(opts_.port_file, port))
        return false;

    if (!watch(listener_.get(), tag_listener, EPOLLIN | EPOLLET) ||
        !watch(signals_.get(), tag_signal, EPOLLIN))
        return false;
    logf("listening on %s, upstream %s, max-conns %zu, connect-timeout "
         "%.3g s",
         bound.c_str(), upstream_text_.c_str(), opts_.max_conns,
         opts_.connect_timeout);
    return true;
}

void proxy::accept_all()
{
    while (!accept_paused_) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = accept4(listener_.get(), reinterpret_cast<sockaddr *>(&ss),
                         &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EAGAIN)
                return;
            if (errno == EMFILE || errno == ENFILE) {
                // The pending connection stays queued; accepting resumes
                // when a connection closes and frees descriptors.
                logf("accept: %s; pausing until a connection closes",
                     os_error(errno));
                accept_paused_ = true;
            } else {
                logf("accept: %s", os_error(errno));
            }
            return;
        }
        zcio::unique_fd client(fd);
        if (conns_.size() >= opts_.max_conns) {
            refused_++;
            logf("conn - %s: refused, max-conns %zu reached",
                 describe(ss).c_str(), opts_.max_conns);
            continue;
        }
        start_connection(std::move(client), ss);
    }
}

void proxy::start_connection(zcio::unique_fd client,
                             const sockaddr_storage &ss)
{
    auto c = std::make_unique<connection>();
    uint64_t id = next_id_++;
    int one = 1;

    c->id = id;
    c->peer = describe(ss);
    c->start = steady::now();
    c->client = std::move(client);
    c->upstream.reset(socket(upstream_addr_.ss.ss_family,
                             SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    conns_.emplace(id, std::move(c));
    connection &conn = *conns_[id];
    if (!conn.upstream)
        return close_connection(id, std::string("socket: ") +
                                        os_error(errno));
    setsockopt(conn.client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(conn.upstream.get(), IPPROTO_TCP, TCP_NODELAY, &one,
               sizeof one);

    int rc = connect(conn.upstream.get(),
                     reinterpret_cast<const sockaddr *>(&upstream_addr_.ss),
                     upstream_addr_.len);
    if (rc < 0 && errno != EINPROGRESS)
        return close_connection(id, std::string("connect: ") +
                                        os_error(errno));

    uint32_t events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    if (!watch(conn.client.get(), id << 1, events) ||
        !watch(conn.upstream.get(), id << 1 | 1, events))
        return close_connection(id, "epoll_ctl failed");
    if (rc == 0)
        return on_connected(conn);

    auto timeout = std::chrono::duration<double>(opts_.connect_timeout);
    conn.deadline =
        conn.start + std::chrono::duration_cast<steady::duration>(timeout);
    timers_.emplace(conn.deadline, id);
}

void proxy::on_connected(connection &c)
{
    std::error_code ec;

    timers_.erase({c.deadline, c.id});
    c.connected = true;
    c.up.t = zcio::transfer::create(c.upstream.get(), c.client.get(),
                                    ZCIO_TO_EOF, nullptr, ec);
    if (!ec)
        c.down.t = zcio::transfer::create(c.client.get(), c.upstream.get(),
                                          ZCIO_TO_EOF, nullptr, ec);
    if (ec)
        return close_connection(c.id, std::string("zcio_transfer_new: ") +
                                          ec.message());
    pump(c);
}

// Steps one direction once. Returns false when the connection was closed.
bool proxy::pump_one(connection &c, direction &d, int to_fd, const char *what)
{
    std::error_code ec;

    if (d.done)
        return true;
    zcio::status s = d.t.step(opts_.budget, ec);
    if (ec) {
        close_connection(c.id, std::string(what) + ": " + ec.message() +
                                   " (" + zcio::error_name(ec) + ")");
        return false;
    }
    if (s == zcio::status::done) {
        // End of input: pass it on, and let the other direction flow on.
        d.done = true;
        if (shutdown(to_fd, SHUT_WR) < 0 && errno != ENOTCONN) {
            close_connection(c.id, std::string(what) + ": shutdown: " +
                                       os_error(errno));
            return false;
        }
    } else if (s == zcio::status::more && !c.queued) {
        c.queued = true;
        ready_.push_back(c.id);
    }
    return true;
}

// Steps both directions; closes the connection once both are done.
bool proxy::pump(connection &c)
{
    if (!pump_one(c, c.up, c.upstream.get(), "client->upstream") ||
        !pump_one(c, c.down, c.client.get(), "upstream->client"))
        return false;
    if (c.up.done && c.down.done) {
        close_connection(c.id, "done");
        return false;
    }
    return true;
}

void proxy::on_event(uint64_t tag, uint32_t events)
{
    auto it = conns_.find(tag >> 1);

    // A connection closed earlier in this batch leaves stale events.
    if (it == conns_.end())
        return;
    connection &c = *it->second;
    if (c.connected)
        return void(pump(c));
    if ((tag & 1) == 0 || !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
        return; // the client's bytes wait in its socket until connected

    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.upstream.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
        return close_connection(c.id, std::string("connect to ") +
                                          upstream_text_ + ": " +
                                          os_error(err));
    on_connected(c);
}

void proxy::close_connection(uint64_t id, const std::string &reason)
{
    auto it = conns_.find(id);
    connection &c = *it->second;
    double secs =
        std::chrono::duration<double>(steady::now() - c.start).count();

    timers_.erase({c.deadline, id});
    logf("conn %" PRIu64 " %s: %" PRIu64 " bytes up, %" PRIu64
         " bytes down, %.3f s, %s/%s, closed: %s",
         id, c.peer.c_str(), c.up.t.written(), c.down.t.written(), secs,
         mechanism_name(c.up.t.progress().mechanism),
         mechanism_name(c.down.t.progress().mechanism), reason.c_str());
    conns_.erase(it); // frees the transfers, then closes both sockets
    closed_++;

    // Idle pooled pipes hold descriptors; with no connection left, give
    // them back so an idle proxy holds only what it started with.
    if (conns_.empty())
        zcio_pool_trim();
    if (accept_paused_ && !stopping_) {
        accept_paused_ = false;
        accept_all();
    }
}

void proxy::expire_timers()
{
    steady::time_point now = steady::now();

    while (!timers_.empty() && timers_.begin()->first <= now) {
        uint64_t id = timers_.begin()->second;

        timers_.erase(timers_.begin());
        char why[64];

        std::snprintf(why, sizeof why, ": timed out after %g s",
                      opts_.connect_timeout);
        close_connection(id, "connect to " + upstream_text_ + why);
    }
}

int proxy::wait_timeout() const
{
    if (!ready_.empty())
        return 0;
    if (timers_.empty())
        return -1;
    auto left = timers_.begin()->first - steady::now();
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms < 0 ? 0 : static_cast<int>(ms);
}

int proxy::run()
{
    std::vector<epoll_event> events(256);

    if (!setup())
        return 1;
    while (!stopping_) {
        int n = epoll_wait(epoll_.get(), events.data(),
                           static_cast<int>(events.size()), wait_timeout());

        if (n < 0 && errno != EINTR) {
            logf("epoll_wait: %s", os_error(errno));
            return 1;
        }
        for (int i = 0; i < n && !stopping_; i++) {
            uint64_t tag = events[i].data.u64;

            if (tag == tag_listener)
                accept_all();
            else if (tag == tag_signal)
                stopping_ = true;
            else
                on_event(tag, events[i].events);
        }

        // Connections whose budget ran out get their turn after everyone
        // that was waiting, so one fast stream cannot starve the rest.
        std::deque<uint64_t> turn;
        turn.swap(ready_);
        for (uint64_t id : turn) {
            auto it = conns_.find(id);
            if (it != conns_.end() && !stopping_) {
                it->second->queued = false;
                pump(*it->second);
            }
        }
        expire_timers();
    }

    signalfd_siginfo si{};
    if (read(signals_.get(), &si, sizeof si) == sizeof si)
        logf("%s: shutting down, closing %zu connections",
             strsignal(static_cast<int>(si.ssi_signo)), conns_.size());
    while (!conns_.empty())
        close_connection(conns_.begin()->first, "shutdown");
    listener_.reset();
    logf("stopped: %" PRIu64 " connections closed, %" PRIu64 " refused",
         closed_, refused_);
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    options opts;

    switch (parse_options(argc, argv, &opts)) {
    case 1:
        return 2;
    case 2:
        return 0;
    }
    return proxy(opts).run();
}
