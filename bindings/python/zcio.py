"""zcio from Python: a ctypes binding to libzcio, with no compiled extension.

The library is loaded from the path in the environment variable
``ZCIO_LIBRARY`` if it is set (a build tree's
``build/cargo/release/libzcio.so.0``, say), otherwise by its SONAME,
``libzcio.so.0``, which the dynamic loader finds wherever zcio is installed.

Every function of the C API is declared with its argument and return types
(``lib`` is the loaded library, for calls this module does not wrap). The
wrappers below raise instead of returning a code:

- a negative code that mirrors the OS (``-errno``) raises ``OSError`` with
  that ``errno``, so the usual subclasses apply (``BrokenPipeError``,
  ``BlockingIOError``, ...);
- a code zcio invents (below -4095) raises ``ZcioError``, an ``OSError``
  subclass with ``code`` and ``name``;
- either way the exception's ``moved`` attribute holds the bytes moved
  before the failure, which zcio never loses.

Offsets follow ``os.sendfile``: ``None`` uses and advances the descriptor's
file position; an int is positional, leaves the position alone, and the
caller adds the returned count to it.
"""

import ctypes
import os

LIBRARY_ENV = "ZCIO_LIBRARY"
SONAME = "libzcio.so.0"

lib = ctypes.CDLL(os.environ.get(LIBRARY_ENV) or SONAME)

# --- Constants (the header's values) ------------------------------------------

OK = 0
TO_EOF = 2**64 - 1
ENULL, EPANIC, ESHORT, EBOUNDS = -5001, -5002, -5003, -5004
EFLAGS, ENOMECH, ENOPIPE, ESTRUCT = -5005, -5006, -5007, -5008
WANT_READ, WANT_WRITE, MORE = 1, 2, 3
MECH_NONE, MECH_COPY_FILE_RANGE, MECH_SENDFILE = 0, 1, 2
MECH_SPLICE, MECH_READ_WRITE = 3, 4
MAP_READ, MAP_WRITE, MAP_PRIVATE, MAP_POPULATE = 1, 2, 4, 8
SYNC_ASYNC = 1
ADVICE_NORMAL, ADVICE_SEQUENTIAL, ADVICE_RANDOM = 0, 1, 2
ADVICE_WILLNEED, ADVICE_DONTNEED, ADVICE_HUGEPAGE = 3, 4, 5
PIPE_NONBLOCK = 1
SPLICE_MOVE, SPLICE_NONBLOCK, SPLICE_MORE = 1, 2, 4

# --- Types --------------------------------------------------------------------

c_int, c_uint32, c_uint64, c_int64 = (
    ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64)
P = ctypes.POINTER


class _Opaque(ctypes.Structure):
    """Stands for zcio_map and zcio_transfer, only ever used by pointer."""


class CopyOpts(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("mechanisms", c_uint32),
                ("in_offset", P(c_int64)), ("out_offset", P(c_int64)),
                ("pipe_size", c_uint32), ("source_policy", c_uint32),
                ("budget", c_uint64), ("read_write_below", c_uint64)]


class CopyResult(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("mechanism", c_uint32),
                ("moved", c_uint64), ("read", c_uint64),
                ("fallback_from", c_uint32), ("fallback_code", ctypes.c_int32)]


class PoolConfig(ctypes.Structure):
    _fields_ = [(name, c_uint32) for name in (
        "size", "max_pipes", "pipe_size", "max_buffers", "buffer_size",
        "reserved")]


class PoolCounters(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("reserved", c_uint32)] + [
        (name, c_uint64) for name in (
            "pipes_idle", "pipes_in_use", "pipes_created", "pipes_reused",
            "pipes_discarded", "pipes_exhausted", "pipe_size", "max_pipes",
            "buffers_idle", "buffers_created", "buffers_reused")]


class Stats(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("reserved", c_uint32),
                ("calls", c_uint64 * 5), ("bytes", c_uint64 * 5),
                ("fallbacks", c_uint64 * 4), ("would_block", c_uint64),
                ("small_copies", c_uint64), ("stable_copies", c_uint64)]


class TransferProgress(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("mechanism", c_uint32),
                ("read", c_uint64), ("written", c_uint64),
                ("buffered", c_uint64), ("step_read", c_uint64),
                ("step_written", c_uint64), ("fallback_from", c_uint32),
                ("fallback_code", ctypes.c_int32)]


class Fault(ctypes.Structure):
    _fields_ = [("size", c_uint32), ("call", c_uint32), ("after", c_uint64),
                ("times", c_uint32), ("result", ctypes.c_int32)]


MapP, TransferP = P(_Opaque), P(_Opaque)
U64P, I64P = P(c_uint64), P(c_int64)

# name: (restype, argtypes), for every function libzcio exports.
SIGNATURES = {
    "zcio_copy_opts_init": (c_int, [P(CopyOpts)]),
    "zcio_copy": (c_int, [c_int, c_int, c_uint64, P(CopyOpts),
                          P(CopyResult)]),
    "zcio_strerror": (ctypes.c_char_p, [c_int]),
    "zcio_err_name": (ctypes.c_char_p, [c_int]),
    "zcio_version": (c_uint32, []),
    "zcio_map_open": (c_int, [c_int, c_uint64, c_uint64, c_uint32,
                              P(MapP)]),
    "zcio_map_open_path": (c_int, [ctypes.c_char_p, c_uint64, c_uint64,
                                   c_uint32, P(MapP)]),
    "zcio_map_anon": (c_int, [c_uint64, c_uint32, P(MapP)]),
    "zcio_map_data": (ctypes.c_void_p, [MapP]),
    "zcio_map_len": (c_uint64, [MapP]),
    "zcio_map_read": (c_int, [MapP, c_uint64, ctypes.c_void_p, c_uint64,
                              U64P]),
    "zcio_map_write": (c_int, [MapP, c_uint64, ctypes.c_void_p, c_uint64,
                               U64P]),
    "zcio_map_send": (c_int, [MapP, c_uint64, c_uint64, c_int, U64P]),
    "zcio_map_check": (c_int, [MapP, U64P]),
    "zcio_map_lock": (c_int, [MapP]),
    "zcio_map_unlock": (c_int, [MapP]),
    "zcio_map_resident": (c_int, [MapP, c_uint64, c_uint64, U64P]),
    "zcio_map_resize": (c_int, [MapP, c_uint64]),
    "zcio_map_sync": (c_int, [MapP, c_uint64, c_uint64, c_uint32]),
    "zcio_map_advise": (c_int, [MapP, c_uint64, c_uint64, c_uint32]),
    "zcio_map_close": (None, [MapP]),
    "zcio_pipe_new": (c_int, [c_uint32, c_uint32, P(c_int)]),
    "zcio_pool_configure": (c_int, [P(PoolConfig)]),
    "zcio_pool_config_get": (c_int, [P(PoolConfig)]),
    "zcio_pool_stats": (c_int, [P(PoolCounters)]),
    "zcio_pool_trim": (c_int, []),
    "zcio_sendfile": (c_int, [c_int, c_int, I64P, c_uint64, U64P]),
    "zcio_splice": (c_int, [c_int, I64P, c_int, I64P, c_uint64, c_uint32,
                            U64P]),
    "zcio_tee": (c_int, [c_int, c_int, c_uint64, c_uint32, U64P]),
    "zcio_copy_file_range": (c_int, [c_int, I64P, c_int, I64P, c_uint64,
                                     U64P]),
    "zcio_stats_get": (c_int, [P(Stats)]),
    "zcio_stats_reset": (None, []),
    "zcio_transfer_new": (c_int, [c_int, c_int, c_uint64, P(CopyOpts),
                                  P(TransferP)]),
    "zcio_transfer_step": (c_int, [TransferP, c_uint64,
                                   P(TransferProgress)]),
    "zcio_transfer_free": (None, [TransferP]),
    "zcio_fault_inject": (c_int, [P(Fault)]),
    "zcio_fault_clear": (None, []),
    "zcio_fault_count": (c_uint64, [c_uint32]),
}

for _name, (_restype, _argtypes) in SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype, _fn.argtypes = _restype, _argtypes

# --- Errors -------------------------------------------------------------------


def strerror(code):
    """zcio_strerror: the message for any code."""
    return lib.zcio_strerror(code).decode()


def err_name(code):
    """zcio_err_name: the name of any code, such as "ZCIO_EAGAIN"."""
    return lib.zcio_err_name(code).decode()


def version():
    """The running library's version as a (major, minor, patch) tuple."""
    v = lib.zcio_version()
    return (v >> 16, (v >> 8) & 0xFF, v & 0xFF)


class ZcioError(OSError):
    """A code zcio invents (ZCIO_ESHORT, ZCIO_EBOUNDS, ...); errno is None."""

    def __init__(self, code, moved=0):
        super().__init__(f"{err_name(code)}: {strerror(code)}")
        self.code, self.name, self.moved = code, err_name(code), moved


def _check(rc, moved=0):
    """Returns rc when it is not an error, else raises with `moved` kept."""
    if rc >= 0:
        return rc
    if rc < -4095:
        raise ZcioError(rc, moved)
    err = OSError(-rc, strerror(rc))
    err.code, err.moved = rc, moved
    raise err


def _offset(value):
    """A positional offset as a pointer for ctypes, or NULL for None."""
    return None if value is None else ctypes.byref(c_int64(value))


# --- Transfers ----------------------------------------------------------------


def sendfile(out_fd, in_fd, count=TO_EOF, offset=None):
    """zcio_sendfile: file to anything; returns the bytes sent."""
    sent = c_uint64()
    rc = lib.zcio_sendfile(out_fd, in_fd, _offset(offset), count,
                           ctypes.byref(sent))
    _check(rc, sent.value)
    return sent.value


def splice(in_fd, out_fd, count=TO_EOF, in_offset=None, out_offset=None,
           flags=0):
    """zcio_splice: to or from a pipe; returns the bytes moved."""
    moved = c_uint64()
    rc = lib.zcio_splice(in_fd, _offset(in_offset), out_fd,
                         _offset(out_offset), count, flags,
                         ctypes.byref(moved))
    _check(rc, moved.value)
    return moved.value


def tee(in_pipe, out_pipe, count, flags=0):
    """zcio_tee: one tee(2) call; returns the bytes duplicated."""
    copied = c_uint64()
    rc = lib.zcio_tee(in_pipe, out_pipe, count, flags, ctypes.byref(copied))
    _check(rc, copied.value)
    return copied.value


def copy_file_range(in_fd, out_fd, count=TO_EOF, in_offset=None,
                    out_offset=None):
    """zcio_copy_file_range: file to file in the kernel; returns bytes."""
    copied = c_uint64()
    rc = lib.zcio_copy_file_range(in_fd, _offset(in_offset), out_fd,
                                  _offset(out_offset), count,
                                  ctypes.byref(copied))
    _check(rc, copied.value)
    return copied.value


def copy(out_fd, in_fd, count=TO_EOF, mechanisms=0):
    """zcio_copy: the best mechanism for the pair; returns a CopyResult.

    ZCIO_MORE is not an error and comes back in the result's return code
    attribute ``rc`` along with the counts.
    """
    opts = CopyOpts(size=ctypes.sizeof(CopyOpts), mechanisms=mechanisms)
    result = CopyResult(size=ctypes.sizeof(CopyResult))
    rc = lib.zcio_copy(out_fd, in_fd, count, ctypes.byref(opts),
                       ctypes.byref(result))
    _check(rc, result.moved)
    result.rc = rc
    return result


def pipe_new(size_hint=0, flags=0):
    """zcio_pipe_new: a close-on-exec pipe as (read_fd, write_fd)."""
    fds = (c_int * 2)()
    _check(lib.zcio_pipe_new(size_hint, flags, fds))
    return fds[0], fds[1]


# --- Mappings -----------------------------------------------------------------


class Map:
    """A zcio_map: a file range as memory, closed by close() or `with`.

    ``view`` is a writable-or-not ``memoryview`` of the mapped bytes
    themselves, not a copy. It is released by close(); slices taken from it
    must not be used after that, since the memory is gone.
    """

    def __init__(self, fd, offset=0, length=0, flags=0):
        self._map = MapP()
        _check(lib.zcio_map_open(fd, offset, length, flags,
                                 ctypes.byref(self._map)))
        size = lib.zcio_map_len(self._map)
        array = (ctypes.c_ubyte * size).from_address(
            lib.zcio_map_data(self._map)) if size else bytearray()
        # Every memoryview made here is released on close().
        self._views = [memoryview(array)]
        self._views.append(self._views[0].cast("B"))
        if not flags & MAP_WRITE:
            self._views.append(self._views[1].toreadonly())
        self.view = self._views[-1]

    def __len__(self):
        return lib.zcio_map_len(self._map)

    def sync(self, offset=0, length=0, flags=0):
        _check(lib.zcio_map_sync(self._map, offset, length, flags))

    def advise(self, advice, offset=0, length=0):
        _check(lib.zcio_map_advise(self._map, offset, length, advice))

    def close(self):
        if self._map:
            for view in reversed(self._views):
                view.release()
            lib.zcio_map_close(self._map)
            self._map = MapP()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()
