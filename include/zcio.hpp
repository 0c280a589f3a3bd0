/*
 * zcio.hpp: a C++17 header-only wrapper over zcio.h.
 *
 * What it adds to the C API, and nothing more:
 * - RAII owners, move-only, that release in the destructor:
 *   zcio::unique_fd (one descriptor), zcio::pipe (both ends of a pipe),
 *   zcio::map (a zcio_map) and zcio::transfer (a zcio_transfer).
 * - Errors as std::error_code in zcio::category(). Its message is
 *   zcio_strerror() and zcio::error_name() gives zcio_err_name(). A code
 *   that mirrors the OS (-errno) compares equal to the matching std::errc
 *   (ec == std::errc::broken_pipe); the codes zcio invents compare equal to
 *   zcio::errc values (ec == zcio::errc::short_input).
 * - Every call comes twice: one throws zcio::error (a std::system_error
 *   that also carries the byte count reached, since zcio never loses it),
 *   the other takes a trailing std::error_code & and never throws.
 * - zcio::span<T>, a view of a mapping's bytes: std::span where the
 *   standard library has it (__cpp_lib_span), else a minimal stand-in with
 *   data(), size(), empty(), begin(), end(), operator[] and subspan().
 * - zcio::transfer::step() returns zcio::status (done, want_read,
 *   want_write, more) instead of a positive int.
 *
 * The ownership, blocking and offset rules are those of zcio.h; each
 * wrapper's comment only says what differs. Thread safety is the C API's:
 * functions are thread-safe, objects are used by one thread at a time.
 */
#ifndef ZCIO_HPP
#define ZCIO_HPP

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#if __has_include(<version>)
#include <version>
#endif
#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
#include <span>
#endif

#include "zcio.h"

namespace zcio {

/* --- Errors -------------------------------------------------------------- */

/* The codes zcio invents (below -4095); OS codes compare with std::errc. */
enum class errc : int {
    null_pointer = ZCIO_ENULL,
    panic = ZCIO_EPANIC,
    short_input = ZCIO_ESHORT,
    out_of_bounds = ZCIO_EBOUNDS,
    bad_flags = ZCIO_EFLAGS,
    no_mechanism = ZCIO_ENOMECH,
    no_pipe = ZCIO_ENOPIPE,
    bad_struct = ZCIO_ESTRUCT,
};

namespace detail {

/* -4095..-1 is where the kernel's -errno values live. */
constexpr bool is_os_code(int code) noexcept
{
    return code < 0 && code > -4096;
}

class category_impl final : public std::error_category {
  public:
    const char *name() const noexcept override { return "zcio"; }

    std::string message(int code) const override
    {
        return zcio_strerror(code);
    }

    /* -errno maps to errno in the generic category, so it equals std::errc;
     * zcio's own codes stay in this category, where zcio::errc finds them. */
    std::error_condition default_error_condition(
        int code) const noexcept override
    {
        if (is_os_code(code))
            return std::error_condition(-code, std::generic_category());
        return std::error_condition(code, *this);
    }
};

} // namespace detail

/* The category of every std::error_code this header produces. */
inline const std::error_category &category() noexcept
{
    static const detail::category_impl instance;
    return instance;
}

/* A zcio return code (ZCIO_OK or negative) as a std::error_code. */
inline std::error_code make_error_code(int code) noexcept
{
    return std::error_code(code, category());
}

inline std::error_code make_error_code(errc code) noexcept
{
    return std::error_code(static_cast<int>(code), category());
}

/* "ZCIO_EAGAIN" and the like, for any code (zcio_err_name). */
inline const char *error_name(int code) noexcept
{
    return zcio_err_name(code);
}

/* The name of a code of zcio's category; "" for one of another category. */
inline const char *error_name(const std::error_code &ec) noexcept
{
    return ec.category() == category() ? zcio_err_name(ec.value()) : "";
}

/* What the throwing calls throw. moved() is the byte count the call had
 * reached, which the C API reports even on error. */
class error : public std::system_error {
  public:
    error(int code, const std::string &what, std::uint64_t moved = 0)
        : std::system_error(make_error_code(code), what), moved_(moved)
    {
    }

    std::uint64_t moved() const noexcept { return moved_; }

  private:
    std::uint64_t moved_;
};

namespace detail {

/* Stores a negative code in ec (or clears it); returns whether it failed. */
inline bool set(std::error_code &ec, int code) noexcept
{
    if (code < 0) {
        ec = make_error_code(code);
        return true;
    }
    ec.clear();
    return false;
}

inline void throw_if(const std::error_code &ec, const char *what,
                     std::uint64_t moved = 0)
{
    if (ec)
        throw error(ec.value(), what, moved);
}

} // namespace detail

/* --- Byte views ---------------------------------------------------------- */

#if defined(__cpp_lib_span) && __cpp_lib_span >= 202002L
template <class T> using span = std::span<T>;
#else
/* The part of std::span a mapping needs. */
template <class T> class span {
  public:
    using element_type = T;
    using value_type = std::remove_cv_t<T>;
    using size_type = std::size_t;
    using pointer = T *;
    using reference = T &;
    using iterator = T *;

    constexpr span() noexcept = default;
    constexpr span(T *data, std::size_t size) noexcept
        : data_(data), size_(size)
    {
    }
    /* span<T> converts to span<const T>. */
    template <class U, class = std::enable_if_t<
                           std::is_convertible_v<U (*)[], T (*)[]>>>
    constexpr span(const span<U> &other) noexcept
        : data_(other.data()), size_(other.size())
    {
    }

    constexpr T *data() const noexcept { return data_; }
    constexpr std::size_t size() const noexcept { return size_; }
    constexpr std::size_t size_bytes() const noexcept
    {
        return size_ * sizeof(T);
    }
    constexpr bool empty() const noexcept { return size_ == 0; }
    constexpr T *begin() const noexcept { return data_; }
    constexpr T *end() const noexcept { return data_ + size_; }
    constexpr T &operator[](std::size_t i) const noexcept
    {
        return data_[i];
    }
    /* Like std::span, the caller keeps offset and count inside the view. */
    constexpr span subspan(std::size_t offset,
                           std::size_t count = std::size_t(-1)) const noexcept
    {
        return span(data_ + offset,
                    count == std::size_t(-1) ? size_ - offset : count);
    }

  private:
    T *data_ = nullptr;
    std::size_t size_ = 0;
};
#endif

/* --- Descriptors and pipes ----------------------------------------------- */

/* Owns one descriptor and closes it; -1 is empty. */
class unique_fd {
  public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd &&other) noexcept : fd_(other.release()) {}
    unique_fd &operator=(unique_fd &&other) noexcept
    {
        if (this != &other)
            reset(other.release());
        return *this;
    }
    unique_fd(const unique_fd &) = delete;
    unique_fd &operator=(const unique_fd &) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    /* Gives up ownership without closing. */
    int release() noexcept { return std::exchange(fd_, -1); }

    /* Closes the descriptor held, if any, and takes fd. close(2) errors
     * are ignored: the descriptor is gone either way on Linux. */
    void reset(int fd = -1) noexcept
    {
        int old = std::exchange(fd_, fd);

        if (old >= 0)
            ::close(old);
    }

  private:
    int fd_ = -1;
};

/* Both ends of a pipe from zcio_pipe_new, closed in the destructor. */
class pipe {
  public:
    pipe() noexcept = default;

    /* zcio_pipe_new: close-on-exec; flags 0 or ZCIO_PIPE_NONBLOCK;
     * size_hint is best effort. */
    static pipe create(std::uint32_t size_hint, std::uint32_t flags,
                       std::error_code &ec) noexcept
    {
        int fds[2];

        if (detail::set(ec, zcio_pipe_new(size_hint, flags, fds)))
            return pipe();
        return pipe(fds[0], fds[1]);
    }

    static pipe create(std::uint32_t size_hint = 0, std::uint32_t flags = 0)
    {
        std::error_code ec;
        pipe p = create(size_hint, flags, ec);

        detail::throw_if(ec, "zcio_pipe_new");
        return p;
    }

    int read_fd() const noexcept { return read_.get(); }
    int write_fd() const noexcept { return write_.get(); }
    explicit operator bool() const noexcept { return read_ || write_; }

    /* Closing the write end lets the reader see end of input. */
    void close_read() noexcept { read_.reset(); }
    void close_write() noexcept { write_.reset(); }

    /* Capacity in bytes (F_GETPIPE_SZ), or a negative zcio code. */
    long capacity() const noexcept
    {
        int fd = read_ ? read_.get() : write_.get();
#ifdef F_GETPIPE_SZ
        int n = ::fcntl(fd, F_GETPIPE_SZ);
#else
        int n = ::fcntl(fd, 1032); /* F_GETPIPE_SZ, hidden without GNU */
#endif

        return n < 0 ? -static_cast<long>(errno) : n;
    }

  private:
    pipe(int r, int w) noexcept : read_(r), write_(w) {}

    unique_fd read_;
    unique_fd write_;
};

/* --- Calls that move bytes ----------------------------------------------- */
/* Each returns the byte count. The error_code form returns it on error too;
 * the throwing form puts it in zcio::error::moved(). A non-blocking
 * descriptor that is not ready is an error here (std::errc::
 * resource_unavailable_try_again), as in the C API. */

inline std::uint64_t sendfile(int out_fd, int in_fd, std::int64_t *offset,
                              std::uint64_t count,
                              std::error_code &ec) noexcept
{
    std::uint64_t sent = 0;

    detail::set(ec, zcio_sendfile(out_fd, in_fd, offset, count, &sent));
    return sent;
}

inline std::uint64_t sendfile(int out_fd, int in_fd, std::int64_t *offset,
                              std::uint64_t count = ZCIO_TO_EOF)
{
    std::error_code ec;
    std::uint64_t sent = sendfile(out_fd, in_fd, offset, count, ec);

    detail::throw_if(ec, "zcio_sendfile", sent);
    return sent;
}

inline std::uint64_t splice(int in_fd, std::int64_t *in_offset, int out_fd,
                            std::int64_t *out_offset, std::uint64_t len,
                            std::uint32_t flags, std::error_code &ec) noexcept
{
    std::uint64_t moved = 0;

    detail::set(ec, zcio_splice(in_fd, in_offset, out_fd, out_offset, len,
                                flags, &moved));
    return moved;
}

inline std::uint64_t splice(int in_fd, std::int64_t *in_offset, int out_fd,
                            std::int64_t *out_offset, std::uint64_t len,
                            std::uint32_t flags = 0)
{
    std::error_code ec;
    std::uint64_t moved =
        splice(in_fd, in_offset, out_fd, out_offset, len, flags, ec);

    detail::throw_if(ec, "zcio_splice", moved);
    return moved;
}

/* One tee(2) call: may duplicate less than len (see zcio_tee). */
inline std::uint64_t tee(int in_pipe, int out_pipe, std::uint64_t len,
                         std::uint32_t flags, std::error_code &ec) noexcept
{
    std::uint64_t copied = 0;

    detail::set(ec, zcio_tee(in_pipe, out_pipe, len, flags, &copied));
    return copied;
}

inline std::uint64_t tee(int in_pipe, int out_pipe, std::uint64_t len,
                         std::uint32_t flags = 0)
{
    std::error_code ec;
    std::uint64_t copied = tee(in_pipe, out_pipe, len, flags, ec);

    detail::throw_if(ec, "zcio_tee", copied);
    return copied;
}

inline std::uint64_t copy_file_range(int in_fd, std::int64_t *in_offset,
                                     int out_fd, std::int64_t *out_offset,
                                     std::uint64_t len,
                                     std::error_code &ec) noexcept
{
    std::uint64_t copied = 0;

    detail::set(ec, zcio_copy_file_range(in_fd, in_offset, out_fd,
                                         out_offset, len, &copied));
    return copied;
}

inline std::uint64_t copy_file_range(int in_fd, std::int64_t *in_offset,
                                     int out_fd, std::int64_t *out_offset,
                                     std::uint64_t len = ZCIO_TO_EOF)
{
    std::error_code ec;
    std::uint64_t copied =
        copy_file_range(in_fd, in_offset, out_fd, out_offset, len, ec);

    detail::throw_if(ec, "zcio_copy_file_range", copied);
    return copied;
}

/* zcio_copy. The result is written on every return; ZCIO_MORE (budget
 * spent) is not an error. */
inline zcio_copy_result copy(int out_fd, int in_fd, std::uint64_t count,
                             const zcio_copy_opts *opts,
                             std::error_code &ec) noexcept
{
    zcio_copy_result res{};

    res.size = sizeof res;
    detail::set(ec, zcio_copy(out_fd, in_fd, count, opts, &res));
    return res;
}

inline zcio_copy_result copy(int out_fd, int in_fd,
                             std::uint64_t count = ZCIO_TO_EOF,
                             const zcio_copy_opts *opts = nullptr)
{
    std::error_code ec;
    zcio_copy_result res = copy(out_fd, in_fd, count, opts, ec);

    detail::throw_if(ec, "zcio_copy", res.moved);
    return res;
}

/* --- Mappings ------------------------------------------------------------ */

/* A mapped file range (zcio_map), unmapped in the destructor. */
class map {
  public:
    map() noexcept = default;

    /* zcio_map_open: len 0 maps to the end of the file; fd may be closed
     * once this returns. */
    static map open(int fd, std::uint64_t offset, std::uint64_t len,
                    std::uint32_t flags, std::error_code &ec) noexcept
    {
        zcio_map *m = nullptr;

        detail::set(ec, zcio_map_open(fd, offset, len, flags, &m));
        return map(m);
    }

    static map open(int fd, std::uint64_t offset = 0, std::uint64_t len = 0,
                    std::uint32_t flags = 0)
    {
        std::error_code ec;
        map m = open(fd, offset, len, flags, ec);

        detail::throw_if(ec, "zcio_map_open");
        return m;
    }

    explicit operator bool() const noexcept { return m_ != nullptr; }
    zcio_map *get() const noexcept { return m_.get(); }

    /* Writable only for a mapping opened with ZCIO_MAP_WRITE. */
    std::uint8_t *data() noexcept { return zcio_map_data(m_.get()); }
    const std::uint8_t *data() const noexcept
    {
        return zcio_map_data(m_.get());
    }
    std::size_t size() const noexcept
    {
        return static_cast<std::size_t>(zcio_map_len(m_.get()));
    }

    /* The bytes, valid until the mapping is closed. Moving the map keeps
     * them valid: the view points into the mapping, not into this object. */
    span<std::uint8_t> bytes() noexcept { return {data(), size()}; }
    span<const std::uint8_t> bytes() const noexcept
    {
        return {data(), size()};
    }

    /* zcio_map_sync: len 0 means to the end of the mapping. */
    void sync(std::uint64_t offset, std::uint64_t len, std::uint32_t flags,
              std::error_code &ec) noexcept
    {
        detail::set(ec, zcio_map_sync(m_.get(), offset, len, flags));
    }

    void sync(std::uint64_t offset = 0, std::uint64_t len = 0,
              std::uint32_t flags = 0)
    {
        std::error_code ec;

        sync(offset, len, flags, ec);
        detail::throw_if(ec, "zcio_map_sync");
    }

    /* zcio_map_advise with one ZCIO_ADVICE_* value. */
    void advise(std::uint32_t advice, std::uint64_t offset,
                std::uint64_t len, std::error_code &ec) noexcept
    {
        detail::set(ec, zcio_map_advise(m_.get(), offset, len, advice));
    }

    void advise(std::uint32_t advice, std::uint64_t offset = 0,
                std::uint64_t len = 0)
    {
        std::error_code ec;

        advise(advice, offset, len, ec);
        detail::throw_if(ec, "zcio_map_advise");
    }

    /* Unmaps now; the map is empty afterwards. */
    void close() noexcept { m_.reset(); }

  private:
    struct closer {
        void operator()(zcio_map *m) const noexcept { zcio_map_close(m); }
    };

    explicit map(zcio_map *m) noexcept : m_(m) {}

    std::unique_ptr<zcio_map, closer> m_;
};

/* --- Transfers ----------------------------------------------------------- */

/* What a step asks for next. */
enum class status {
    done = ZCIO_OK,                 /* every byte is written */
    want_read = ZCIO_WANT_READ,     /* wait for EPOLLIN on the input */
    want_write = ZCIO_WANT_WRITE,   /* wait for EPOLLOUT on the output */
    more = ZCIO_MORE,               /* budget spent: step again */
};

/* A copy in progress (zcio_transfer), freed in the destructor. It does not
 * own the descriptors: keep them open while it lives. */
class transfer {
  public:
    transfer() noexcept = default;

    /* zcio_transfer_new. opts may be null; count may be ZCIO_TO_EOF. */
    static transfer create(int out_fd, int in_fd, std::uint64_t count,
                           const zcio_copy_opts *opts,
                           std::error_code &ec) noexcept
    {
        zcio_transfer *t = nullptr;

        detail::set(ec, zcio_transfer_new(out_fd, in_fd, count, opts, &t));
        return transfer(t);
    }

    static transfer create(int out_fd, int in_fd,
                           std::uint64_t count = ZCIO_TO_EOF,
                           const zcio_copy_opts *opts = nullptr)
    {
        std::error_code ec;
        transfer t = create(out_fd, in_fd, count, opts, ec);

        detail::throw_if(ec, "zcio_transfer_new");
        return t;
    }

    explicit operator bool() const noexcept { return t_ != nullptr; }

    /* zcio_transfer_step with budget bytes (0: the options' budget). On
     * error ec is set and the status is done: nothing more will move.
     * progress() is updated on every return. */
    status step(std::uint64_t budget, std::error_code &ec) noexcept
    {
        int rc;

        progress_.size = sizeof progress_;
        rc = zcio_transfer_step(t_.get(), budget, &progress_);
        if (detail::set(ec, rc))
            return status::done;
        return static_cast<status>(rc);
    }

    status step(std::uint64_t budget = 0)
    {
        std::error_code ec;
        status s = step(budget, ec);

        detail::throw_if(ec, "zcio_transfer_step", progress_.written);
        return s;
    }

    /* As of the last step (all zero before the first one). */
    const zcio_transfer_progress &progress() const noexcept
    {
        return progress_;
    }
    std::uint64_t read() const noexcept { return progress_.read; }
    std::uint64_t written() const noexcept { return progress_.written; }

    /* Frees now, dropping bytes still buffered; empty afterwards. */
    void reset() noexcept
    {
        t_.reset();
        progress_ = zcio_transfer_progress{};
    }

  private:
    struct freer {
        void operator()(zcio_transfer *t) const noexcept
        {
            zcio_transfer_free(t);
        }
    };

    explicit transfer(zcio_transfer *t) noexcept : t_(t) {}

    std::unique_ptr<zcio_transfer, freer> t_;
    zcio_transfer_progress progress_{};
};

/* --- Describing codes and the library ------------------------------------ */

inline const char *strerror(int code) noexcept
{
    return zcio_strerror(code);
}

/* The running library's version, major << 16 | minor << 8 | patch. */
inline std::uint32_t version() noexcept
{
    return zcio_version();
}

} // namespace zcio

namespace std {
template <> struct is_error_code_enum<zcio::errc> : true_type {};
} // namespace std

#endif /* ZCIO_HPP */
