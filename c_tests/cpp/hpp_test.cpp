// zcio.hpp keeps its promises: owners close what they own (counted in
// /proc/self/fd), moves transfer ownership, errors carry zcio's category and
// compare with std::errc, and the error_code overloads never throw.
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "zcio.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

int sys(int ret, const char *what)
{
    if (ret < 0)
        throw std::runtime_error(std::string(what) + ": " +
                                 std::strerror(errno));
    return ret;
}

// Open descriptors of this process, not counting the one that lists them.
int open_fds()
{
    DIR *dir = ::opendir("/proc/self/fd");
    int n = 0;

    if (!dir)
        throw std::runtime_error("opendir /proc/self/fd");
    while (const dirent *e = ::readdir(dir))
        if (e->d_name[0] != '.')
            n++;
    ::closedir(dir);
    return n - 1;
}

int mappings()
{
    std::ifstream maps("/proc/self/maps");
    std::string line;
    int n = 0;

    while (std::getline(maps, line))
        n++;
    return n;
}

Bytes pattern(size_t len)
{
    Bytes out(len);

    for (size_t i = 0; i < len; i++)
        out[i] = static_cast<uint8_t>(i * 7 + i / 251);
    return out;
}

zcio::unique_fd temp_file(const Bytes &data)
{
    const char *env = std::getenv("TMPDIR");
    std::string path = std::string(env && *env ? env : "/tmp") +
                       "/zcio-hpp-XXXXXX";
    zcio::unique_fd fd(sys(::mkstemp(path.data()), "mkstemp"));

    sys(::unlink(path.c_str()), "unlink");
    if (!data.empty())
        sys(static_cast<int>(::pwrite(fd.get(), data.data(), data.size(), 0)),
            "pwrite");
    return fd;
}

struct SocketPair {
    zcio::unique_fd a;
    zcio::unique_fd b;
};

SocketPair socket_pair(int extra = 0)
{
    int sv[2];

    sys(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extra, 0, sv),
        "socketpair");
    return SocketPair{zcio::unique_fd(sv[0]), zcio::unique_fd(sv[1])};
}

Bytes read_all(int fd)
{
    Bytes out;
    uint8_t buf[65536];
    ssize_t n;

    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.insert(out.end(), buf, buf + n);
    sys(static_cast<int>(n), "read");
    return out;
}

bool is_open(int fd)
{
    return ::fcntl(fd, F_GETFD) >= 0;
}

static_assert(!std::is_copy_constructible_v<zcio::pipe>);
static_assert(!std::is_copy_constructible_v<zcio::map>);
static_assert(!std::is_copy_constructible_v<zcio::transfer>);
static_assert(!std::is_copy_constructible_v<zcio::unique_fd>);
static_assert(std::is_nothrow_move_constructible_v<zcio::pipe>);
static_assert(std::is_nothrow_move_constructible_v<zcio::map>);
static_assert(std::is_nothrow_move_constructible_v<zcio::transfer>);
static_assert(std::is_nothrow_move_assignable_v<zcio::transfer>);
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
static_assert(std::is_same_v<zcio::span<uint8_t>, std::span<uint8_t>>);
#endif

} // namespace

// --- Errors ----------------------------------------------------------------

TEST(HppCategory, MessageAndNameComeFromTheLibrary)
{
    std::error_code ec = zcio::make_error_code(ZCIO_EPIPE);

    EXPECT_STREQ(zcio::category().name(), "zcio");
    EXPECT_EQ(&ec.category(), &zcio::category());
    EXPECT_EQ(ec.message(), zcio_strerror(ZCIO_EPIPE));
    EXPECT_STREQ(zcio::error_name(ec), "ZCIO_EPIPE");
    EXPECT_STREQ(zcio::error_name(ZCIO_ESHORT), "ZCIO_ESHORT");
    EXPECT_EQ(zcio::make_error_code(ZCIO_ENOPIPE).message(),
              zcio_strerror(ZCIO_ENOPIPE));
    EXPECT_STREQ(zcio::error_name(std::make_error_code(std::errc::io_error)),
                 "");
    EXPECT_FALSE(zcio::make_error_code(ZCIO_OK));
}

TEST(HppCategory, OsCodesEqualStdErrc)
{
    EXPECT_EQ(zcio::make_error_code(ZCIO_EPIPE), std::errc::broken_pipe);
    EXPECT_EQ(zcio::make_error_code(ZCIO_EAGAIN),
              std::errc::resource_unavailable_try_again);
    EXPECT_EQ(zcio::make_error_code(ZCIO_EBADF),
              std::errc::bad_file_descriptor);
    EXPECT_EQ(zcio::make_error_code(-ENODATA), std::errc::no_message_available);
    EXPECT_NE(zcio::make_error_code(ZCIO_EPIPE), std::errc::io_error);

    std::error_condition cond =
        zcio::make_error_code(ZCIO_EINVAL).default_error_condition();
    EXPECT_EQ(&cond.category(), &std::generic_category());
    EXPECT_EQ(cond.value(), EINVAL);
}

TEST(HppCategory, OwnCodesEqualZcioErrcOnly)
{
    std::error_code ec = zcio::make_error_code(ZCIO_ESHORT);

    EXPECT_EQ(ec, zcio::errc::short_input);
    EXPECT_NE(ec, zcio::errc::out_of_bounds);
    EXPECT_EQ(ec.default_error_condition().category(), zcio::category());
    EXPECT_NE(ec, std::errc::io_error);
    EXPECT_EQ(std::error_code(zcio::errc::no_pipe).value(), ZCIO_ENOPIPE);
}

// --- unique_fd and pipe ----------------------------------------------------

TEST(HppFd, ClosesResetsAndReleases)
{
    int base = open_fds();
    int raw;
    {
        zcio::unique_fd fd(sys(::dup(0), "dup"));

        EXPECT_EQ(open_fds(), base + 1);
        zcio::unique_fd moved(std::move(fd));
        EXPECT_FALSE(fd);
        EXPECT_TRUE(moved);
        EXPECT_EQ(open_fds(), base + 1);
        raw = moved.release();
    }
    EXPECT_EQ(open_fds(), base + 1);
    zcio::unique_fd(raw).reset();
    EXPECT_EQ(open_fds(), base);
}

TEST(HppPipe, DestructorClosesBothEnds)
{
    int base = open_fds();
    int r, w;
    {
        zcio::pipe p = zcio::pipe::create(0, ZCIO_PIPE_NONBLOCK);

        EXPECT_EQ(open_fds(), base + 2);
        r = p.read_fd();
        w = p.write_fd();
        EXPECT_TRUE(::fcntl(r, F_GETFD) & FD_CLOEXEC);
        EXPECT_TRUE(::fcntl(w, F_GETFL) & O_NONBLOCK);
    }
    EXPECT_EQ(open_fds(), base);
    EXPECT_FALSE(is_open(r));
    EXPECT_FALSE(is_open(w));
}

TEST(HppPipe, MovesTransferOwnership)
{
    int base = open_fds();
    zcio::pipe a = zcio::pipe::create();
    int r = a.read_fd();
    zcio::pipe b(std::move(a));

    EXPECT_FALSE(a);
    EXPECT_EQ(a.read_fd(), -1);
    EXPECT_EQ(b.read_fd(), r);
    EXPECT_EQ(open_fds(), base + 2);

    zcio::pipe c = zcio::pipe::create();
    EXPECT_EQ(open_fds(), base + 4);
    c = std::move(b); // c's old ends close, b's move in
    EXPECT_EQ(open_fds(), base + 2);
    EXPECT_EQ(c.read_fd(), r);
    c = zcio::pipe();
    EXPECT_EQ(open_fds(), base);
}

TEST(HppPipe, CloseWriteGivesEndOfInput)
{
    zcio::pipe p = zcio::pipe::create(1 << 20);
    const char msg[] = "hello";

    EXPECT_GE(p.capacity(), 65536);
    sys(static_cast<int>(::write(p.write_fd(), msg, 5)), "write");
    p.close_write();
    EXPECT_EQ(p.write_fd(), -1);
    Bytes got = read_all(p.read_fd());
    EXPECT_EQ(std::string(got.begin(), got.end()), "hello");
}

TEST(HppPipe, BadFlagsThrowOrSetTheCode)
{
    int base = open_fds();

    try {
        zcio::pipe::create(0, 0x80);
        FAIL() << "no exception";
    } catch (const zcio::error &e) {
        EXPECT_EQ(e.code(), zcio::errc::bad_flags);
        EXPECT_EQ(&e.code().category(), &zcio::category());
        EXPECT_NE(std::string(e.what()).find("zcio_pipe_new"),
                  std::string::npos);
    }

    std::error_code ec = zcio::make_error_code(ZCIO_EIO);
    zcio::pipe p = zcio::pipe::create(0, 0x80, ec);
    EXPECT_EQ(ec.value(), ZCIO_EFLAGS);
    EXPECT_FALSE(p);
    p = zcio::pipe::create(0, 0, ec);
    EXPECT_FALSE(ec);
    EXPECT_TRUE(p);
    p = zcio::pipe();
    EXPECT_EQ(open_fds(), base);
}

// --- Calls that move bytes -------------------------------------------------

TEST(HppCalls, SpliceAndTee)
{
    zcio::pipe in = zcio::pipe::create();
    zcio::pipe copy = zcio::pipe::create();
    Bytes data = pattern(1000);
    zcio::unique_fd file = temp_file(data);
    int64_t off = 0;

    EXPECT_EQ(zcio::splice(file.get(), &off, in.write_fd(), nullptr, 1000),
              1000u);
    EXPECT_EQ(off, 1000);
    EXPECT_EQ(zcio::tee(in.read_fd(), copy.write_fd(), 1000), 1000u);
    in.close_write();
    copy.close_write();
    EXPECT_EQ(read_all(in.read_fd()), data);
    EXPECT_EQ(read_all(copy.read_fd()), data);
}

TEST(HppCalls, ShortInputThrowsWithTheCount)
{
    zcio::unique_fd file = temp_file(pattern(100));
    zcio::pipe p = zcio::pipe::create();
    int64_t off = 0;

    try {
        zcio::splice(file.get(), &off, p.write_fd(), nullptr, 500);
        FAIL() << "no exception";
    } catch (const zcio::error &e) {
        EXPECT_EQ(e.code(), zcio::errc::short_input);
        EXPECT_EQ(e.moved(), 100u);
    }
}

TEST(HppCalls, EagainOverloadKeepsProgressAndNeverThrows)
{
    zcio::pipe in = zcio::pipe::create(0, ZCIO_PIPE_NONBLOCK);
    zcio::pipe out = zcio::pipe::create(0, ZCIO_PIPE_NONBLOCK);
    std::error_code ec;
    uint64_t n;

    n = zcio::tee(in.read_fd(), out.write_fd(), 10, ZCIO_SPLICE_NONBLOCK, ec);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);
    EXPECT_STREQ(zcio::error_name(ec), "ZCIO_EAGAIN");

    sys(static_cast<int>(::write(in.write_fd(), "abc", 3)), "write");
    n = zcio::splice(in.read_fd(), nullptr, out.write_fd(), nullptr, 10,
                     ZCIO_SPLICE_NONBLOCK, ec);
    EXPECT_EQ(n, 3u);
    EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);
}

TEST(HppCalls, SendfileCopyAndCopyFileRange)
{
    Bytes data = pattern(300000);
    zcio::unique_fd src = temp_file(data);
    zcio::unique_fd dst = temp_file({});
    zcio::unique_fd dst2 = temp_file({});
    SocketPair sp = socket_pair();
    int64_t in_off = 0, out_off = 0;

    EXPECT_EQ(zcio::copy_file_range(src.get(), &in_off, dst.get(), &out_off),
              data.size());
    zcio_copy_result res = zcio::copy(dst2.get(), src.get());
    EXPECT_EQ(res.moved, data.size());
    EXPECT_EQ(zcio::sendfile(sp.a.get(), dst.get(), nullptr, 1000), 1000u);

    Bytes got(1000);
    EXPECT_EQ(::recv(sp.b.get(), got.data(), 1000, MSG_WAITALL), 1000);
    EXPECT_EQ(got, Bytes(data.begin(), data.begin() + 1000));

    std::error_code ec;
    res = zcio::copy(dst.get(), -1, ZCIO_TO_EOF, nullptr, ec);
    EXPECT_EQ(ec, std::errc::bad_file_descriptor);
    EXPECT_THROW(zcio::sendfile(-1, src.get(), nullptr), std::system_error);
}

// --- Mappings --------------------------------------------------------------

TEST(HppMap, ViewShowsTheFile)
{
    Bytes data = pattern(10000);
    zcio::unique_fd file = temp_file(data);
    zcio::map m = zcio::map::open(file.get(), 123, 5000);
    zcio::span<const uint8_t> view = std::as_const(m).bytes();

    file.reset(); // the mapping keeps the file alive
    ASSERT_EQ(view.size(), 5000u);
    EXPECT_EQ(m.size(), 5000u);
    EXPECT_EQ(Bytes(view.begin(), view.end()),
              Bytes(data.begin() + 123, data.begin() + 5123));
    EXPECT_EQ(view[0], data[123]);
    EXPECT_EQ(view.subspan(4999).size(), 1u);
    EXPECT_EQ(view.subspan(10, 2)[1], data[134]);
    m.advise(ZCIO_ADVICE_SEQUENTIAL);
}

TEST(HppMap, WritesReachTheFile)
{
    zcio::unique_fd file = temp_file(Bytes(4096, 0));
    zcio::map m = zcio::map::open(file.get(), 0, 0, ZCIO_MAP_WRITE);
    zcio::span<uint8_t> view = m.bytes();

    for (auto &b : view)
        b = 0x5a;
    m.sync();
    uint8_t got = 0;
    EXPECT_EQ(::pread(file.get(), &got, 1, 4095), 1);
    EXPECT_EQ(got, 0x5a);
}

TEST(HppMap, DestructorAndMovesUnmapOnce)
{
    zcio::unique_fd file = temp_file(pattern(1 << 20));
    int base = mappings();
    int fds = open_fds();
    {
        zcio::map a = zcio::map::open(file.get());
        const uint8_t *p = a.data();

        EXPECT_EQ(mappings(), base + 1);
        zcio::map b(std::move(a));
        EXPECT_FALSE(a);
        EXPECT_EQ(b.data(), p); // the view survives the move
        EXPECT_EQ(b.bytes()[5], pattern(6)[5]);
        a = zcio::map::open(file.get(), 0, 4096);
        EXPECT_EQ(mappings(), base + 2);
        a = std::move(b);
        EXPECT_EQ(mappings(), base + 1);
        EXPECT_EQ(a.data(), p);
    }
    EXPECT_EQ(mappings(), base);
    EXPECT_EQ(open_fds(), fds);
}

TEST(HppMap, ErrorsThrowOrSetTheCode)
{
    zcio::unique_fd file = temp_file(pattern(100));

    try {
        zcio::map::open(file.get(), 50, 100);
        FAIL() << "no exception";
    } catch (const std::system_error &e) {
        EXPECT_EQ(e.code(), zcio::errc::out_of_bounds);
        EXPECT_EQ(e.code().category(), zcio::category());
    }

    SocketPair sp = socket_pair();
    std::error_code ec;
    zcio::map m = zcio::map::open(sp.a.get(), 0, 0, 0, ec);
    EXPECT_EQ(ec, std::errc::no_such_device);
    EXPECT_FALSE(m);
    EXPECT_TRUE(m.bytes().empty());

    m = zcio::map::open(file.get());
    m.advise(999, 0, 0, ec);
    EXPECT_EQ(ec, zcio::errc::bad_flags);
    m.sync(0, 1000, 0, ec);
    EXPECT_EQ(ec, zcio::errc::out_of_bounds);
    EXPECT_THROW(m.sync(0, 1000), zcio::error);
}

// --- Transfers -------------------------------------------------------------

TEST(HppTransfer, FileToSocketReportsEachStatus)
{
    Bytes data = pattern(3 << 20);
    zcio::unique_fd file = temp_file(data);
    SocketPair sp = socket_pair(SOCK_NONBLOCK);
    zcio::transfer t = zcio::transfer::create(sp.a.get(), file.get());
    Bytes got;
    bool saw_more = false, saw_want_write = false;
    zcio::status s;

    while ((s = t.step(100000)) != zcio::status::done) {
        if (s == zcio::status::more)
            saw_more = true;
        if (s == zcio::status::want_write) {
            saw_want_write = true;
            uint8_t buf[1 << 16];
            ssize_t n;
            while ((n = ::recv(sp.b.get(), buf, sizeof buf, 0)) > 0)
                got.insert(got.end(), buf, buf + n);
        }
        EXPECT_LE(t.progress().step_written, 100000u);
    }
    EXPECT_TRUE(saw_more);
    EXPECT_TRUE(saw_want_write);
    EXPECT_EQ(t.written(), data.size());
    EXPECT_EQ(t.read(), data.size());
    sp.a.reset();
    Bytes rest = read_all(sp.b.get());
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(got, data);
}

TEST(HppTransfer, SocketToSocketWantsReadAndFreesItsPipe)
{
    SocketPair in = socket_pair(SOCK_NONBLOCK);
    SocketPair out = socket_pair(SOCK_NONBLOCK);

    zcio_pool_trim();
    int base = open_fds();
    {
        zcio::transfer t = zcio::transfer::create(out.a.get(), in.b.get());

        EXPECT_EQ(t.step(), zcio::status::want_read);
        sys(static_cast<int>(::send(in.a.get(), "ping", 4, 0)), "send");
        EXPECT_EQ(t.step(), zcio::status::want_read);
        EXPECT_EQ(t.written(), 4u);
        in.a.reset();
        EXPECT_EQ(t.step(), zcio::status::done);
        EXPECT_EQ(t.progress().mechanism, unsigned(ZCIO_MECH_SPLICE));

        zcio::transfer moved(std::move(t));
        EXPECT_FALSE(t);
        EXPECT_TRUE(moved);
        EXPECT_EQ(moved.step(), zcio::status::done);
    }
    zcio_pool_trim(); // the pipe went back to the pool; drop it
    EXPECT_EQ(open_fds(), base - 1); // in.a was closed above

    char buf[8] = {};
    EXPECT_EQ(::recv(out.b.get(), buf, sizeof buf, 0), 4);
    EXPECT_STREQ(buf, "ping");
}

TEST(HppTransfer, BrokenPipeThrowsWithProgress)
{
    Bytes data = pattern(1 << 20);
    zcio::unique_fd file = temp_file(data);
    SocketPair sp = socket_pair(SOCK_NONBLOCK);
    zcio::transfer t = zcio::transfer::create(sp.a.get(), file.get());

    sp.b.reset();
    try {
        t.step();
        FAIL() << "no exception";
    } catch (const zcio::error &e) {
        EXPECT_EQ(e.code(), std::errc::broken_pipe);
        EXPECT_EQ(e.code().category(), zcio::category());
        EXPECT_STREQ(zcio::error_name(e.code()), "ZCIO_EPIPE");
        EXPECT_EQ(e.moved(), t.written());
    }

    std::error_code ec;
    EXPECT_EQ(t.step(0, ec), zcio::status::done);
    EXPECT_EQ(ec, std::errc::broken_pipe);
}

TEST(HppTransfer, CreateErrorsThrowOrSetTheCode)
{
    zcio::unique_fd file = temp_file(pattern(10));
    SocketPair sp = socket_pair();
    int64_t off = 0;
    zcio_copy_opts opts;

    zcio_copy_opts_init(&opts);
    opts.out_offset = &off;
    EXPECT_THROW(zcio::transfer::create(-1, file.get()), zcio::error);

    std::error_code ec;
    zcio::transfer t =
        zcio::transfer::create(sp.a.get(), file.get(), 10, &opts, ec);
    EXPECT_EQ(ec, std::errc::invalid_seek);
    EXPECT_FALSE(t);

    t = zcio::transfer::create(sp.a.get(), file.get(), 10, nullptr, ec);
    EXPECT_FALSE(ec);
    EXPECT_EQ(t.step(0, ec), zcio::status::done);
    EXPECT_FALSE(ec);
    t.reset();
    EXPECT_FALSE(t);
    EXPECT_EQ(t.written(), 0u);
}

TEST(HppMisc, VersionAndStrerror)
{
    EXPECT_EQ(zcio::version(), zcio_version());
    EXPECT_STREQ(zcio::strerror(ZCIO_ENULL), zcio_strerror(ZCIO_ENULL));
}
