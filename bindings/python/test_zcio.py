"""The ctypes binding moves the right bytes with every call and turns every
error path the C tests cover into the right exception, bytes moved kept."""

import ctypes
import errno
import fcntl
import os
import pathlib
import socket
import tempfile

import pytest

import zcio

DATA = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture
def src():
    """A temporary file holding DATA, open read-only."""
    with tempfile.NamedTemporaryFile() as f:
        f.write(DATA)
        f.flush()
        fd = os.open(f.name, os.O_RDONLY)
        yield fd
        os.close(fd)


@pytest.fixture
def dst():
    """An empty temporary file, open for reading and writing."""
    with tempfile.TemporaryFile() as f:
        yield f.fileno()


@pytest.fixture
def pipe():
    r, w = zcio.pipe_new(1 << 20)
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def read_all(fd, n):
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def test_every_export_is_declared():
    symbols = pathlib.Path(__file__).parents[2] / "abi" / "zcio.symbols"
    names = [line for line in symbols.read_text().split()
             if line.startswith("zcio_")]
    assert sorted(names) == sorted(zcio.SIGNATURES)
    for name in names:
        fn = getattr(zcio.lib, name)
        assert fn.argtypes is not None, name
        # A pointer result must never come back truncated to an int.
        if name in ("zcio_map_data", "zcio_strerror", "zcio_err_name"):
            assert fn.restype in (ctypes.c_void_p, ctypes.c_char_p), name


def test_version_and_strings():
    assert len(zcio.version()) == 3
    assert zcio.err_name(zcio.ESHORT) == "ZCIO_ESHORT"
    assert zcio.err_name(-errno.EPIPE) == "ZCIO_EPIPE"
    assert zcio.strerror(-errno.ENOENT) == os.strerror(errno.ENOENT)
    assert zcio.err_name(-123456) == "ZCIO_UNKNOWN"


def test_sendfile_to_pipe_with_offset(src, pipe):
    r, w = pipe
    assert zcio.sendfile(w, src, 1000, offset=24) == 1000
    assert read_all(r, 1000) == DATA[24:1024]
    assert os.lseek(src, 0, os.SEEK_CUR) == 0  # positional: untouched


def test_sendfile_to_socket_advances_position(src):
    a, b = socket.socketpair()
    with a, b:
        assert zcio.sendfile(a.fileno(), src) == len(DATA)
        a.shutdown(socket.SHUT_WR)
        assert read_all(b.fileno(), len(DATA) + 1) == DATA
    assert os.lseek(src, 0, os.SEEK_CUR) == len(DATA)


def test_sendfile_short_keeps_count(src, pipe):
    with pytest.raises(zcio.ZcioError) as info:
        zcio.sendfile(pipe[1], src, len(DATA) + 10)
    assert info.value.code == zcio.ESHORT
    assert info.value.errno is None
    assert info.value.moved == len(DATA)


def test_sendfile_ebadf(src):
    with pytest.raises(OSError) as info:
        zcio.sendfile(src, src, 10)  # src is read-only
    assert info.value.errno == errno.EBADF
    assert info.value.moved == 0


def test_sendfile_nonblocking_full_pipe_keeps_progress(src):
    r, w = zcio.pipe_new(4096, zcio.PIPE_NONBLOCK)
    try:
        with pytest.raises(BlockingIOError) as info:
            zcio.sendfile(w, src)
        assert info.value.errno == errno.EAGAIN
        assert 0 < info.value.moved < len(DATA)
        assert read_all(r, info.value.moved) == DATA[:info.value.moved]
    finally:
        os.close(r)
        os.close(w)


def test_sendfile_broken_pipe_without_sigpipe(src, pipe):
    r, w = pipe
    os.close(r)
    with pytest.raises(BrokenPipeError) as info:
        zcio.sendfile(w, src)
    assert info.value.errno == errno.EPIPE
    assert info.value.moved == 0


def test_splice_file_pipe_file(src, dst, pipe):
    r, w = pipe
    assert zcio.splice(src, w, 5000, in_offset=100) == 5000
    assert zcio.splice(r, dst, 5000, out_offset=0) == 5000
    assert os.pread(dst, 6000, 0) == DATA[100:5100]


def test_splice_errors(src, dst, pipe):
    with pytest.raises(OSError) as info:
        zcio.splice(src, dst, 10)  # neither is a pipe
    assert info.value.errno == errno.EINVAL
    with pytest.raises(zcio.ZcioError) as info:
        zcio.splice(src, pipe[1], 10, flags=0x100)
    assert info.value.code == zcio.EFLAGS
    with pytest.raises(OSError) as info:
        zcio.splice(pipe[0], dst, 10, in_offset=0)  # offset on a pipe
    assert info.value.errno == errno.ESPIPE


def test_tee_duplicates_without_consuming(pipe):
    r, w = pipe
    r2, w2 = zcio.pipe_new()
    try:
        os.write(w, b"hello tee")
        assert zcio.tee(r, w2, 100) == 9
        assert os.read(r2, 100) == b"hello tee"
        assert os.read(r, 100) == b"hello tee"
        with pytest.raises(OSError) as info:
            zcio.tee(r, w2, 10, flags=zcio.SPLICE_NONBLOCK)  # empty input
        assert info.value.errno == errno.EAGAIN
    finally:
        os.close(r2)
        os.close(w2)


def test_tee_needs_pipes(src, dst):
    with pytest.raises(OSError) as info:
        zcio.tee(src, dst, 10)
    assert info.value.errno == errno.EINVAL


def test_copy_file_range(src, dst):
    assert zcio.copy_file_range(src, dst, 4096, in_offset=4096,
                                out_offset=0) == 4096
    assert os.pread(dst, 8192, 0) == DATA[4096:8192]
    assert zcio.copy_file_range(src, dst) == len(DATA)  # positions
    assert os.pread(dst, len(DATA), 0) == DATA


def test_copy_file_range_errors(src, dst, pipe):
    with pytest.raises(zcio.ZcioError) as info:
        zcio.copy_file_range(src, dst, len(DATA) + 1)
    assert info.value.code == zcio.ESHORT
    assert info.value.moved == len(DATA)
    with pytest.raises(OSError) as info:
        zcio.copy_file_range(pipe[0], dst, 10)
    assert info.value.errno == errno.EINVAL


def test_copy_file_to_socket(src):
    a, b = socket.socketpair()
    with a, b:
        res = zcio.copy(a.fileno(), src)
        assert res.rc == zcio.OK
        assert res.moved == len(DATA)
        assert res.mechanism == zcio.MECH_SENDFILE
        a.shutdown(socket.SHUT_WR)
        assert read_all(b.fileno(), len(DATA) + 1) == DATA


def test_copy_read_write_only(src, dst):
    res = zcio.copy(dst, src, mechanisms=1 << zcio.MECH_READ_WRITE)
    assert (res.moved, res.mechanism) == (len(DATA), zcio.MECH_READ_WRITE)
    assert os.pread(dst, len(DATA), 0) == DATA


def test_copy_errors(src, dst):
    with pytest.raises(zcio.ZcioError) as info:
        zcio.copy(dst, src, len(DATA) + 1)
    assert info.value.code == zcio.ESHORT
    assert info.value.moved == len(DATA)
    with pytest.raises(OSError) as info:
        zcio.copy(dst, 1 << 20)  # not a descriptor
    assert info.value.errno == errno.EBADF


def test_null_pointers_are_refused():
    assert zcio.lib.zcio_sendfile(1, 0, None, 1, None) == zcio.ENULL
    assert zcio.lib.zcio_copy(1, 0, 1, None, None) == zcio.ENULL
    assert zcio.lib.zcio_map_open(0, 0, 0, 0, None) == zcio.ENULL
    assert zcio.lib.zcio_map_data(None) is None
    assert zcio.lib.zcio_map_len(None) == 0
    zcio.lib.zcio_map_close(None)


def test_map_read_is_a_view_not_a_copy(dst):
    os.pwrite(dst, DATA, 0)
    with zcio.Map(dst, offset=10, length=100) as m:
        assert len(m) == 100
        assert m.view.readonly
        assert m.view.tobytes() == DATA[10:110]
        # A write to the file shows through: the view is the mapping.
        os.pwrite(dst, b"changed", 10)
        assert m.view[:7] == b"changed"
    with zcio.Map(dst, offset=len(DATA)) as m:
        assert len(m) == 0 and len(m.view) == 0


def test_map_write_reaches_file(dst):
    os.pwrite(dst, b"\0" * 8192, 0)
    with zcio.Map(dst, flags=zcio.MAP_WRITE) as m:
        # The view shares memory with the mapping: ctypes sees the same
        # address that zcio_map_data returns.
        view_address = ctypes.addressof(
            (ctypes.c_ubyte * len(m)).from_buffer(m.view))
        assert view_address == zcio.lib.zcio_map_data(m._map)
        m.view[100:105] = b"hello"
        m.advise(zcio.ADVICE_SEQUENTIAL)
        m.sync()
    assert os.pread(dst, 5, 100) == b"hello"


def test_map_errors(src, pipe):
    with pytest.raises(zcio.ZcioError) as info:
        zcio.Map(src, offset=len(DATA) + 1)
    assert info.value.code == zcio.EBOUNDS
    with pytest.raises(zcio.ZcioError) as info:
        zcio.Map(src, flags=0x1000)
    assert info.value.code == zcio.EFLAGS
    with pytest.raises(PermissionError):
        zcio.Map(src, flags=zcio.MAP_WRITE)  # read-only descriptor
    with pytest.raises(OSError) as info:
        zcio.Map(pipe[0])
    assert info.value.errno == errno.ENODEV
    with zcio.Map(src) as m:
        with pytest.raises(zcio.ZcioError) as info:
            m.sync(offset=len(DATA) + 1)
        assert info.value.code == zcio.EBOUNDS
        with pytest.raises(zcio.ZcioError) as info:
            m.advise(99)
        assert info.value.code == zcio.EFLAGS


def test_map_close_releases_the_view(src):
    m = zcio.Map(src)
    view = m.view
    m.close()
    with pytest.raises(ValueError):
        view[0]
    m.close()  # twice is harmless


def test_pipe_new_flags():
    r, w = zcio.pipe_new(0, zcio.PIPE_NONBLOCK)
    try:
        assert fcntl.fcntl(r, fcntl.F_GETFL) & os.O_NONBLOCK
        assert fcntl.fcntl(w, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
    finally:
        os.close(r)
        os.close(w)
    with pytest.raises(zcio.ZcioError) as info:
        zcio.pipe_new(0, 0x80)
    assert info.value.code == zcio.EFLAGS
