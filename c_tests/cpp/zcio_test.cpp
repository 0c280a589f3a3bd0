// The zcio C API used from C++: transfers with and without offsets, end of
// input, pipes, tee, mappings, error codes and NULL arguments.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <future>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "zcio.h"

namespace {

using Bytes = std::vector<uint8_t>;

// --- RAII helpers ----------------------------------------------------------

// Owns one descriptor and closes it.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd &&other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd &operator=(Fd &&other) noexcept
    {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    ~Fd() { reset(); }

    int get() const { return fd_; }
    void reset()
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

struct Pair {
    Fd a; // the read end for pipes
    Fd b; // the write end for pipes
};

struct MapCloser {
    void operator()(zcio_map *map) const { zcio_map_close(map); }
};
using Map = std::unique_ptr<zcio_map, MapCloser>;

// Setup failures throw; GoogleTest reports them as a failed test.
int sys(int ret, const char *what)
{
    if (ret < 0)
        throw std::runtime_error(std::string(what) + ": " +
                                 std::strerror(errno));
    return ret;
}

Bytes pattern(size_t len, uint32_t seed)
{
    std::mt19937 gen(seed);
    Bytes out(len);

    for (auto &b : out)
        b = static_cast<uint8_t>(gen() >> 24);
    return out;
}

void write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        sys(static_cast<int>(n), "write");
        p += n;
        len -= static_cast<size_t>(n);
    }
}

// Reads until len bytes or end of file.
Bytes read_up_to(int fd, size_t len)
{
    Bytes out(len);
    size_t done = 0;

    while (done < len) {
        ssize_t n = ::read(fd, out.data() + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        sys(static_cast<int>(n), "read");
        if (n == 0)
            break;
        done += static_cast<size_t>(n);
    }
    out.resize(done);
    return out;
}

Bytes pread_up_to(int fd, size_t len, off_t off)
{
    Bytes out(len);
    ssize_t n = ::pread(fd, out.data(), len, off);

    sys(static_cast<int>(n), "pread");
    out.resize(static_cast<size_t>(n));
    return out;
}

// A new unlinked temporary file holding data, positioned at 0.
Fd temp_file(const Bytes &data = {})
{
    const char *env = std::getenv("TMPDIR");
    std::string path = std::string(env && *env ? env : "/tmp") +
                       "/zcio-cpp-XXXXXX";
    Fd fd(sys(::mkstemp(path.data()), "mkstemp"));

    sys(::unlink(path.c_str()), "unlink");
    write_all(fd.get(), data.data(), data.size());
    sys(static_cast<int>(::lseek(fd.get(), 0, SEEK_SET)), "lseek");
    return fd;
}

Fd reopen(const Fd &fd, int flags)
{
    std::string path = "/proc/self/fd/" + std::to_string(fd.get());

    return Fd(sys(::open(path.c_str(), flags | O_CLOEXEC), "open"));
}

int64_t pos(const Fd &fd)
{
    return ::lseek(fd.get(), 0, SEEK_CUR);
}

void seek(const Fd &fd, off_t to)
{
    sys(static_cast<int>(::lseek(fd.get(), to, SEEK_SET)), "lseek");
}

Pair make_pipe(uint32_t flags = 0)
{
    int fds[2];
    int rc = zcio_pipe_new(0, flags, fds);

    if (rc != ZCIO_OK)
        throw std::runtime_error(std::string("zcio_pipe_new: ") +
                                 zcio_strerror(rc));
    return Pair{Fd(fds[0]), Fd(fds[1])};
}

Pair make_socketpair(int extra = 0)
{
    int sv[2];

    sys(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extra, 0, sv),
        "socketpair");
    return Pair{Fd(sv[0]), Fd(sv[1])};
}

void set_blocking(const Fd &fd)
{
    int flags = sys(::fcntl(fd.get(), F_GETFL), "fcntl");

    sys(::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK), "fcntl");
}

// Reads len bytes (or to end of file) from fd on another thread.
std::future<Bytes> read_async(const Fd &fd, size_t len)
{
    return std::async(std::launch::async,
                      [raw = fd.get(), len] { return read_up_to(raw, len); });
}

Bytes slice(const Bytes &data, size_t from, size_t len)
{
    return Bytes(data.begin() + static_cast<std::ptrdiff_t>(from),
                 data.begin() + static_cast<std::ptrdiff_t>(from + len));
}

// Compares zcio codes and prints both by name on mismatch.
testing::AssertionResult rc_eq(const char *got_expr, const char *want_expr,
                               int got, int want)
{
    if (got == want)
        return testing::AssertionSuccess();
    return testing::AssertionFailure()
           << got_expr << " returned " << got << " " << zcio_err_name(got)
           << " (" << zcio_strerror(got) << "), expected " << want_expr
           << " = " << want << " " << zcio_err_name(want);
}

#define EXPECT_RC(expr, want) EXPECT_PRED_FORMAT2(rc_eq, expr, want)
#define ASSERT_RC(expr, want) ASSERT_PRED_FORMAT2(rc_eq, expr, want)

constexpr uint64_t kPoison = 0xdeadbeefcafe;

// --- sendfile --------------------------------------------------------------

TEST(Sendfile, NullOffsetAdvancesThePosition)
{
    const Bytes data = pattern(300000, 1);
    Fd in = temp_file(data);
    Pair sock = make_socketpair();
    auto received = read_async(sock.b, data.size() - 10);
    uint64_t sent = kPoison;

    seek(in, 10);
    ASSERT_RC(zcio_sendfile(sock.a.get(), in.get(), nullptr,
                            data.size() - 10, &sent),
              ZCIO_OK);
    EXPECT_EQ(sent, data.size() - 10);
    EXPECT_EQ(pos(in), static_cast<int64_t>(data.size()));
    EXPECT_EQ(received.get(), slice(data, 10, data.size() - 10));
}

TEST(Sendfile, OffsetLeavesThePositionAlone)
{
    const Bytes data = pattern(300000, 2);
    Fd in = temp_file(data);
    Pair sock = make_socketpair();
    auto received = read_async(sock.b, 200000);
    int64_t off = 4099;
    uint64_t sent = kPoison;

    seek(in, 5);
    ASSERT_RC(zcio_sendfile(sock.a.get(), in.get(), &off, 200000, &sent),
              ZCIO_OK);
    EXPECT_EQ(sent, 200000u);
    EXPECT_EQ(off, 4099 + 200000);
    EXPECT_EQ(pos(in), 5);
    EXPECT_EQ(received.get(), slice(data, 4099, 200000));
}

TEST(Sendfile, FileToFile)
{
    const Bytes data = pattern(100000, 3);
    Fd in = temp_file(data);
    Fd out = temp_file();
    int64_t off = 777;
    uint64_t sent = kPoison;

    ASSERT_RC(zcio_sendfile(out.get(), in.get(), nullptr, ZCIO_TO_EOF, &sent),
              ZCIO_OK);
    EXPECT_EQ(sent, data.size());
    EXPECT_EQ(pos(in), static_cast<int64_t>(data.size()));
    EXPECT_EQ(pread_up_to(out.get(), data.size() + 1, 0), data);

    seek(in, 0);
    seek(out, 0);
    sent = kPoison;
    ASSERT_RC(zcio_sendfile(out.get(), in.get(), &off, 1000, &sent), ZCIO_OK);
    EXPECT_EQ(sent, 1000u);
    EXPECT_EQ(off, 1777);
    EXPECT_EQ(pos(in), 0);
    EXPECT_EQ(pread_up_to(out.get(), 1000, 0), slice(data, 777, 1000));
}

TEST(Sendfile, CountPastEndIsShort)
{
    const Bytes data = pattern(10000, 4);
    Fd in = temp_file(data);
    Fd out = temp_file();
    int64_t off = 2500;
    uint64_t sent = kPoison;

    EXPECT_RC(zcio_sendfile(out.get(), in.get(), nullptr, 20000, &sent),
              ZCIO_ESHORT);
    EXPECT_EQ(sent, 10000u);
    EXPECT_EQ(pos(in), 10000);

    sent = kPoison;
    EXPECT_RC(zcio_sendfile(out.get(), in.get(), &off, 20000, &sent),
              ZCIO_ESHORT);
    EXPECT_EQ(sent, 7500u);
    EXPECT_EQ(off, 10000);

    off = 0;
    sent = kPoison;
    EXPECT_RC(zcio_sendfile(out.get(), in.get(), &off, ZCIO_TO_EOF, &sent),
              ZCIO_OK);
    EXPECT_EQ(sent, 10000u);
    EXPECT_EQ(off, 10000);
}

TEST(Sendfile, NegativeOffsetIsInvalid)
{
    Fd in = temp_file(pattern(100, 5));
    Fd out = temp_file();
    int64_t off = -1;
    uint64_t sent = kPoison;

    EXPECT_RC(zcio_sendfile(out.get(), in.get(), &off, 10, &sent),
              ZCIO_EINVAL);
    EXPECT_EQ(sent, 0u);
    EXPECT_EQ(off, -1);
}

TEST(Sendfile, NonBlockingSocketGivesEagainWithProgress)
{
    const Bytes data = pattern(4 << 20, 6);
    Fd in = temp_file(data);
    Pair sock = make_socketpair(SOCK_NONBLOCK);
    int sndbuf = 64 * 1024;
    int64_t off = 0;
    uint64_t sent = kPoison;

    sys(::setsockopt(sock.a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf,
                     sizeof(sndbuf)),
        "setsockopt");
    ASSERT_RC(zcio_sendfile(sock.a.get(), in.get(), &off, data.size(), &sent),
              ZCIO_EAGAIN);
    ASSERT_GT(sent, 0u);
    ASSERT_LT(sent, data.size());
    EXPECT_EQ(off, static_cast<int64_t>(sent));
    EXPECT_EQ(pos(in), 0);

    // A blocking reader drains while the rest goes out with blocking sends.
    const size_t first = sent;
    set_blocking(sock.a);
    set_blocking(sock.b);
    auto received = read_async(sock.b, data.size());

    sent = kPoison;
    ASSERT_RC(zcio_sendfile(sock.a.get(), in.get(), &off, data.size() - first,
                            &sent),
              ZCIO_OK);
    EXPECT_EQ(sent, data.size() - first);
    EXPECT_EQ(off, static_cast<int64_t>(data.size()));
    EXPECT_EQ(received.get(), data);
}

// --- splice and tee --------------------------------------------------------

TEST(Splice, FileThroughPipeToSocket)
{
    constexpr size_t kChunk = 16 * 1024;
    const Bytes data = pattern(100000, 7);
    Fd in = temp_file(data);
    Pair pipe = make_pipe();
    Pair sock = make_socketpair();
    const size_t start = 333;
    auto received = read_async(sock.b, data.size() - start);
    int64_t off = start;

    for (size_t done = start; done < data.size();) {
        const uint64_t n = std::min(kChunk, data.size() - done);
        uint64_t moved = kPoison;

        ASSERT_RC(zcio_splice(in.get(), &off, pipe.b.get(), nullptr, n, 0,
                              &moved),
                  ZCIO_OK);
        ASSERT_EQ(moved, n);
        moved = kPoison;
        ASSERT_RC(zcio_splice(pipe.a.get(), nullptr, sock.a.get(), nullptr, n,
                              0, &moved),
                  ZCIO_OK);
        ASSERT_EQ(moved, n);
        done += n;
    }
    sock.a.reset();

    EXPECT_EQ(off, static_cast<int64_t>(data.size()));
    EXPECT_EQ(pos(in), 0);
    EXPECT_EQ(received.get(), slice(data, start, data.size() - start));
}

TEST(Splice, EndOfInput)
{
    const Bytes data = pattern(1000, 8);
    Fd in = temp_file(data);
    Fd out = temp_file();
    Pair pipe = make_pipe();
    uint64_t moved = kPoison;

    EXPECT_RC(zcio_splice(in.get(), nullptr, pipe.b.get(), nullptr, 5000, 0,
                          &moved),
              ZCIO_ESHORT);
    EXPECT_EQ(moved, 1000u);
    EXPECT_EQ(pos(in), 1000);

    // A pipe ends when its last writer is gone.
    pipe.b.reset();
    moved = kPoison;
    EXPECT_RC(zcio_splice(pipe.a.get(), nullptr, out.get(), nullptr,
                          ZCIO_TO_EOF, 0, &moved),
              ZCIO_OK);
    EXPECT_EQ(moved, 1000u);
    EXPECT_EQ(pread_up_to(out.get(), 1001, 0), data);
}

TEST(Tee, DuplicatesWithoutConsuming)
{
    const Bytes data = pattern(1000, 9);
    Pair a = make_pipe();
    Pair b = make_pipe();
    uint64_t copied = kPoison;

    write_all(a.b.get(), data.data(), data.size());
    ASSERT_RC(zcio_tee(a.a.get(), b.b.get(), data.size(), 0, &copied),
              ZCIO_OK);
    EXPECT_EQ(copied, data.size());

    a.b.reset();
    b.b.reset();
    EXPECT_EQ(read_up_to(a.a.get(), data.size() + 1), data);
    EXPECT_EQ(read_up_to(b.a.get(), data.size() + 1), data);
}

TEST(Tee, NonPipeIsEinval)
{
    Fd file = temp_file(pattern(100, 10));
    Pair pipe = make_pipe();
    uint64_t copied = kPoison;

    write_all(pipe.b.get(), reinterpret_cast<const uint8_t *>("x"), 1);
    EXPECT_RC(zcio_tee(file.get(), pipe.b.get(), 100, 0, &copied), -EINVAL);
    EXPECT_EQ(copied, 0u);
    copied = kPoison;
    EXPECT_RC(zcio_tee(pipe.a.get(), file.get(), 100, 0, &copied), -EINVAL);
    EXPECT_EQ(copied, 0u);
}

TEST(Tee, EmptyPipeWithWriterIsEagain)
{
    Pair a = make_pipe(ZCIO_PIPE_NONBLOCK);
    Pair b = make_pipe(ZCIO_PIPE_NONBLOCK);
    uint64_t copied = kPoison;

    EXPECT_RC(zcio_tee(a.a.get(), b.b.get(), 100, ZCIO_SPLICE_NONBLOCK,
                       &copied),
              ZCIO_EAGAIN);
    EXPECT_EQ(copied, 0u);
}

// --- copy_file_range and pipes ---------------------------------------------

TEST(CopyFileRange, BothOffsets)
{
    const Bytes data = pattern(200000, 11);
    Fd in = temp_file(data);
    Fd out = temp_file();
    int64_t in_off = 1000, out_off = 0;
    uint64_t copied = kPoison;

    seek(in, 17);
    ASSERT_RC(zcio_copy_file_range(in.get(), &in_off, out.get(), &out_off,
                                   100000, &copied),
              ZCIO_OK);
    EXPECT_EQ(copied, 100000u);
    EXPECT_EQ(in_off, 101000);
    EXPECT_EQ(out_off, 100000);
    EXPECT_EQ(pos(in), 17);
    EXPECT_EQ(pos(out), 0);
    EXPECT_EQ(pread_up_to(out.get(), 100001, 0), slice(data, 1000, 100000));
}

TEST(CopyFileRange, NullOffsetsAdvancePositions)
{
    const Bytes data = pattern(50000, 12);
    Fd in = temp_file(data);
    Fd out = temp_file();
    uint64_t copied = kPoison;

    seek(in, 2000);
    ASSERT_RC(zcio_copy_file_range(in.get(), nullptr, out.get(), nullptr,
                                   ZCIO_TO_EOF, &copied),
              ZCIO_OK);
    EXPECT_EQ(copied, 48000u);
    EXPECT_EQ(pos(in), 50000);
    EXPECT_EQ(pos(out), 48000);
    EXPECT_EQ(pread_up_to(out.get(), 50000, 0), slice(data, 2000, 48000));
}

TEST(CopyFileRange, PastEndIsShort)
{
    Fd in = temp_file(pattern(5000, 13));
    Fd out = temp_file();
    int64_t in_off = 4000, out_off = 0;
    uint64_t copied = kPoison;

    EXPECT_RC(zcio_copy_file_range(in.get(), &in_off, out.get(), &out_off,
                                   5000, &copied),
              ZCIO_ESHORT);
    EXPECT_EQ(copied, 1000u);
    EXPECT_EQ(in_off, 5000);
    EXPECT_EQ(out_off, 1000);
}

TEST(Pipe, CloseOnExecAndNonBlocking)
{
    for (uint32_t flags : {0u, static_cast<uint32_t>(ZCIO_PIPE_NONBLOCK)}) {
        int fds[2] = {-1, -1};

        ASSERT_RC(zcio_pipe_new(0xFFFFFFFFu, flags, fds), ZCIO_OK);
        Fd r(fds[0]), w(fds[1]);
        for (int fd : fds) {
            EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
            EXPECT_EQ((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0,
                      flags == ZCIO_PIPE_NONBLOCK);
        }
    }
}

// --- mappings --------------------------------------------------------------

Map open_map(const Fd &fd, uint64_t offset, uint64_t len, uint32_t flags)
{
    zcio_map *raw = nullptr;
    int rc = zcio_map_open(fd.get(), offset, len, flags, &raw);

    if (rc != ZCIO_OK)
        throw std::runtime_error(std::string("zcio_map_open: ") +
                                 zcio_err_name(rc));
    return Map(raw);
}

Bytes contents(const Map &map)
{
    const uint8_t *p = zcio_map_data(map.get());

    return Bytes(p, p + zcio_map_len(map.get()));
}

TEST(Map, ReadsTheFile)
{
    const Bytes data = pattern(3 * 4096 + 100, 14);
    Fd fd = temp_file(data);

    EXPECT_EQ(contents(open_map(fd, 0, 0, ZCIO_MAP_READ)), data);
    EXPECT_EQ(contents(open_map(fd, 0, 0, 0)), data);

    // Unaligned: the first byte is the requested one.
    Map map = open_map(fd, 4097, 0, ZCIO_MAP_READ);
    EXPECT_EQ(zcio_map_data(map.get())[0], data[4097]);
    EXPECT_EQ(contents(map), slice(data, 4097, data.size() - 4097));

    // The mapping outlives its descriptor.
    Fd copy = reopen(fd, O_RDONLY);
    Map kept = open_map(copy, 100, 10, ZCIO_MAP_READ);
    copy.reset();
    EXPECT_EQ(contents(kept), slice(data, 100, 10));
}

TEST(Map, SharedWritesReachTheFile)
{
    const Bytes data = pattern(8192, 15);
    Fd fd = temp_file(data);
    Map map = open_map(fd, 10, 0, ZCIO_MAP_READ | ZCIO_MAP_WRITE);
    uint8_t *p = zcio_map_data(map.get());

    p[0] = static_cast<uint8_t>(data[10] ^ 0xff);
    EXPECT_RC(zcio_map_sync(map.get(), 0, 0, 0), ZCIO_OK);
    EXPECT_EQ(pread_up_to(fd.get(), 1, 10), Bytes{p[0]});
}

TEST(Map, PrivateWritesStayPrivate)
{
    const Bytes data = pattern(8192, 16);
    Fd fd = temp_file(data);
    Map map = open_map(fd, 0, 0,
                       ZCIO_MAP_READ | ZCIO_MAP_WRITE | ZCIO_MAP_PRIVATE);
    uint8_t *p = zcio_map_data(map.get());

    p[5] = static_cast<uint8_t>(data[5] ^ 0xff);
    EXPECT_RC(zcio_map_sync(map.get(), 0, 0, 0), ZCIO_OK);
    EXPECT_EQ(p[5], static_cast<uint8_t>(data[5] ^ 0xff));
    EXPECT_EQ(pread_up_to(fd.get(), 1, 5), Bytes{data[5]});
}

TEST(Map, EmptyAndEndOfFile)
{
    Fd empty = temp_file();
    Fd fd = temp_file(pattern(5000, 17));

    Map a = open_map(empty, 0, 0, ZCIO_MAP_READ);
    EXPECT_EQ(zcio_map_len(a.get()), 0u);
    EXPECT_NE(zcio_map_data(a.get()), nullptr);
    Map b = open_map(fd, 5000, 0, ZCIO_MAP_READ);
    EXPECT_EQ(zcio_map_len(b.get()), 0u);
}

TEST(Map, OutOfBoundsAndBadFlags)
{
    Fd fd = temp_file(pattern(5000, 18));
    const struct {
        uint64_t offset, len;
        uint32_t flags;
        int want;
    } cases[] = {
        {5001, 0, ZCIO_MAP_READ, ZCIO_EBOUNDS},
        {0, 5001, ZCIO_MAP_READ, ZCIO_EBOUNDS},
        {4096, 905, ZCIO_MAP_READ, ZCIO_EBOUNDS},
        {4096, UINT64_MAX - 100, ZCIO_MAP_READ, ZCIO_EBOUNDS},
        {0, 0, 0x100, ZCIO_EFLAGS},
    };

    for (const auto &c : cases) {
        zcio_map *map = reinterpret_cast<zcio_map *>(&fd);

        EXPECT_RC(zcio_map_open(fd.get(), c.offset, c.len, c.flags, &map),
                  c.want)
            << "offset " << c.offset << " len " << c.len;
        EXPECT_EQ(map, nullptr);
    }
}

TEST(Map, SharedWriteNeedsAWritableDescriptor)
{
    Fd fd = temp_file(pattern(100, 19));
    Fd ro = reopen(fd, O_RDONLY);
    zcio_map *map = reinterpret_cast<zcio_map *>(&fd);

    EXPECT_RC(zcio_map_open(ro.get(), 0, 0, ZCIO_MAP_READ | ZCIO_MAP_WRITE,
                            &map),
              -EACCES);
    EXPECT_EQ(map, nullptr);
}

TEST(Map, Advise)
{
    Fd fd = temp_file(pattern(65536, 20));
    Map map = open_map(fd, 1, 0, ZCIO_MAP_READ);

    for (uint32_t advice :
         {ZCIO_ADVICE_NORMAL, ZCIO_ADVICE_SEQUENTIAL, ZCIO_ADVICE_RANDOM,
          ZCIO_ADVICE_WILLNEED, ZCIO_ADVICE_DONTNEED}) {
        EXPECT_RC(zcio_map_advise(map.get(), 0, 0, advice), ZCIO_OK);
        EXPECT_RC(zcio_map_advise(map.get(), 100, 5000, advice), ZCIO_OK);
    }
    int rc = zcio_map_advise(map.get(), 0, 0, ZCIO_ADVICE_HUGEPAGE);
    EXPECT_TRUE(rc == ZCIO_OK || rc == ZCIO_EINVAL) << zcio_err_name(rc);
    EXPECT_RC(zcio_map_advise(map.get(), 0, 0, ZCIO_ADVICE_HUGEPAGE + 1),
              ZCIO_EFLAGS);
    EXPECT_RC(zcio_map_advise(map.get(), 0, 65536, ZCIO_ADVICE_NORMAL),
              ZCIO_EBOUNDS);
}

// --- errors and arguments --------------------------------------------------

TEST(Errors, EveryNamedCode)
{
    const std::pair<int, const char *> codes[] = {
        {ZCIO_OK, "ZCIO_OK"},
        {ZCIO_EPERM, "ZCIO_EPERM"},
        {ZCIO_ENOENT, "ZCIO_ENOENT"},
        {ZCIO_EINTR, "ZCIO_EINTR"},
        {ZCIO_EIO, "ZCIO_EIO"},
        {ZCIO_EBADF, "ZCIO_EBADF"},
        {ZCIO_EAGAIN, "ZCIO_EAGAIN"},
        {ZCIO_ENOMEM, "ZCIO_ENOMEM"},
        {ZCIO_EACCES, "ZCIO_EACCES"},
        {ZCIO_EFAULT, "ZCIO_EFAULT"},
        {ZCIO_EBUSY, "ZCIO_EBUSY"},
        {ZCIO_EXDEV, "ZCIO_EXDEV"},
        {ZCIO_ENODEV, "ZCIO_ENODEV"},
        {ZCIO_EISDIR, "ZCIO_EISDIR"},
        {ZCIO_EINVAL, "ZCIO_EINVAL"},
        {ZCIO_ENFILE, "ZCIO_ENFILE"},
        {ZCIO_EMFILE, "ZCIO_EMFILE"},
        {ZCIO_EFBIG, "ZCIO_EFBIG"},
        {ZCIO_ENOSPC, "ZCIO_ENOSPC"},
        {ZCIO_ESPIPE, "ZCIO_ESPIPE"},
        {ZCIO_EROFS, "ZCIO_EROFS"},
        {ZCIO_EPIPE, "ZCIO_EPIPE"},
        {ZCIO_ENOSYS, "ZCIO_ENOSYS"},
        {ZCIO_EOVERFLOW, "ZCIO_EOVERFLOW"},
        {ZCIO_EOPNOTSUPP, "ZCIO_EOPNOTSUPP"},
        {ZCIO_ECONNRESET, "ZCIO_ECONNRESET"},
        {ZCIO_ENOTCONN, "ZCIO_ENOTCONN"},
        {ZCIO_ETIMEDOUT, "ZCIO_ETIMEDOUT"},
        {ZCIO_ENULL, "ZCIO_ENULL"},
        {ZCIO_EPANIC, "ZCIO_EPANIC"},
        {ZCIO_ESHORT, "ZCIO_ESHORT"},
        {ZCIO_EBOUNDS, "ZCIO_EBOUNDS"},
        {ZCIO_EFLAGS, "ZCIO_EFLAGS"},
        {ZCIO_ENOMECH, "ZCIO_ENOMECH"},
        {ZCIO_ENOPIPE, "ZCIO_ENOPIPE"},
        {ZCIO_ESTRUCT, "ZCIO_ESTRUCT"},
        {ZCIO_WANT_READ, "ZCIO_WANT_READ"},
        {ZCIO_WANT_WRITE, "ZCIO_WANT_WRITE"},
        {ZCIO_MORE, "ZCIO_MORE"},
    };

    for (const auto &[code, name] : codes) {
        ASSERT_NE(zcio_err_name(code), nullptr) << name;
        ASSERT_NE(zcio_strerror(code), nullptr) << name;
        EXPECT_STREQ(zcio_err_name(code), name);
        EXPECT_STRNE(zcio_strerror(code), "") << name;
    }
}

static_assert(ZCIO_EAGAIN == -EAGAIN && ZCIO_EBADF == -EBADF &&
              ZCIO_EINVAL == -EINVAL && ZCIO_EPIPE == -EPIPE &&
              ZCIO_EACCES == -EACCES && ZCIO_ETIMEDOUT == -ETIMEDOUT);
static_assert(ZCIO_ENULL < -4095 && ZCIO_EPANIC < -4095 &&
              ZCIO_ESHORT < -4095 && ZCIO_EBOUNDS < -4095 &&
              ZCIO_EFLAGS < -4095 && ZCIO_ENOMECH < -4095 &&
              ZCIO_ENOPIPE < -4095 && ZCIO_ESTRUCT < -4095);

TEST(Errors, AnyIntGivesAString)
{
    std::mt19937 gen(21);

    for (int code : {42, 4096, INT_MAX, INT_MIN, -6000})
        EXPECT_STREQ(zcio_err_name(code), "ZCIO_UNKNOWN") << code;
    for (int i = 0; i < 100000; i++) {
        const int code = static_cast<int>(gen());

        ASSERT_NE(zcio_err_name(code), nullptr) << code;
        ASSERT_NE(zcio_strerror(code), nullptr) << code;
    }
}

TEST(Arguments, NullOutPointersAreEnull)
{
    Fd file = temp_file(pattern(100, 22));
    Pair pipe = make_pipe(ZCIO_PIPE_NONBLOCK);
    int64_t off = 0;

    EXPECT_RC(zcio_sendfile(pipe.b.get(), file.get(), &off, 10, nullptr),
              ZCIO_ENULL);
    EXPECT_RC(zcio_splice(file.get(), nullptr, pipe.b.get(), nullptr, 10, 0,
                          nullptr),
              ZCIO_ENULL);
    EXPECT_RC(zcio_tee(pipe.a.get(), pipe.b.get(), 10, 0, nullptr),
              ZCIO_ENULL);
    EXPECT_RC(zcio_copy_file_range(file.get(), &off, file.get(), nullptr, 10,
                                   nullptr),
              ZCIO_ENULL);
    EXPECT_RC(zcio_pipe_new(0, 0, nullptr), ZCIO_ENULL);
    EXPECT_RC(zcio_map_open(file.get(), 0, 0, 0, nullptr), ZCIO_ENULL);
    EXPECT_RC(zcio_map_sync(nullptr, 0, 0, 0), ZCIO_ENULL);
    EXPECT_RC(zcio_map_advise(nullptr, 0, 0, 0), ZCIO_ENULL);
    EXPECT_EQ(zcio_map_data(nullptr), nullptr);
    EXPECT_EQ(zcio_map_len(nullptr), 0u);
    zcio_map_close(nullptr);

    EXPECT_EQ(off, 0);
    EXPECT_EQ(pos(file), 0);
}

TEST(Arguments, ClosedDescriptorIsEbadf)
{
    Fd file = temp_file(pattern(100, 23));
    Fd closed(sys(::dup(file.get()), "dup"));
    const int bad = closed.get();
    uint64_t n = kPoison;
    zcio_map *map = reinterpret_cast<zcio_map *>(&n);

    closed.reset();
    errno = 0;
    int rc = zcio_sendfile(bad, file.get(), nullptr, 10, &n);
    int err = errno;
    EXPECT_RC(rc, -EBADF);
    EXPECT_EQ(err, EBADF);
    EXPECT_EQ(n, 0u);

    n = kPoison;
    rc = zcio_copy_file_range(bad, nullptr, file.get(), nullptr, 10, &n);
    EXPECT_RC(rc, -EBADF);
    EXPECT_EQ(n, 0u);

    rc = zcio_map_open(bad, 0, 0, 0, &map);
    EXPECT_RC(rc, -EBADF);
    EXPECT_EQ(map, nullptr);
}

TEST(Version, MatchesTheMacros)
{
    EXPECT_EQ(zcio_version(), static_cast<uint32_t>(ZCIO_VERSION_MAJOR << 16 |
                                                    ZCIO_VERSION_MINOR << 8 |
                                                    ZCIO_VERSION_PATCH));
}

} // namespace
