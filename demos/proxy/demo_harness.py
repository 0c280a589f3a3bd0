"""Shared pieces of the zcio-proxy and zcio-mirror integration tests: a
server under test started on an ephemeral port, its descriptor count, and a
scripted upstream that sinks, sources or echoes checksummed streams.

Nothing here asserts on timing; the waits only bound how long a broken
server can hang a test on a slow, loaded machine.
"""

import atexit
import faulthandler
import hashlib
import os
import random
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

WAIT = 120  # seconds: an upper bound for hangs, never a performance check
CHUNK = 256 * 1024

# A hung test shows where it hangs before CTest's timeout kills it.
faulthandler.dump_traceback_later(WAIT * 4, exit=True)


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


class Pattern:
    """Deterministic bytes: a random block of an odd size, repeated, so no
    chunk boundary of the code under test lines up with it."""

    def __init__(self, seed, block=(1 << 20) + 7):
        self.block = random.Random(seed).randbytes(block)
        self.double = memoryview(self.block + self.block)

    def chunks(self, total, size=CHUNK):
        pos = 0
        n = len(self.block)
        while pos < total:
            take = min(size, total - pos, n)
            start = pos % n
            yield self.double[start:start + take]
            pos += take

    def digest(self, total):
        h = hashlib.sha1()
        for c in self.chunks(total, 1 << 20):
            h.update(c)
        return h.hexdigest()


def recv_all(sock, hasher=None, keep=False, progress=None):
    """Reads to end of stream; returns (count, bytes or None). progress,
    a (dict, key) pair, gets the running count."""
    count = 0
    kept = bytearray() if keep else None
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while True:
        n = sock.recv_into(buf)
        if n == 0:
            return count, kept
        count += n
        if progress:
            progress[0][progress[1]] = count
        if hasher:
            hasher.update(view[:n])
        if keep:
            kept += view[:n]


def read_line(sock):
    line = bytearray()
    while not line.endswith(b"\n"):
        b = sock.recv(1)
        if not b:
            break
        line += b
    return line.decode().strip()


def connect(port, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=WAIT)
    return s


class Upstream:
    """A threaded TCP server. Each connection starts with one line:

    SINK tag          read to end of stream, reply "count sha1", close
    SOURCE tag n seed send n bytes of Pattern(seed), shut down writing,
                      then read to end of stream and record it under tag
    ECHO tag          send back everything, close at end of stream
    HOLD tag          read nothing at all until the test releases it

    results[tag] = (count, sha1) for SINK and SOURCE; event(tag) is set
    when the connection's work is complete, event("begin:" + tag) once its
    first line arrived.
    """

    def __init__(self, stall=False):
        self.stall = stall  # read nothing at all, not even the first line
        self.progress = {}  # tag -> bytes a SINK has read so far
        self.results = {}
        self.events = {}
        self.lock = threading.Lock()
        self.release = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                outer._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 512

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def event(self, tag):
        with self.lock:
            return self.events.setdefault(tag, threading.Event())

    def _handle(self, sock):
        sock.settimeout(WAIT * 4)
        if self.stall:
            self.release.wait(WAIT * 4)
            sock.close()
            return
        words = read_line(sock).split()
        if not words:
            return
        mode, tag = words[0], words[1]
        self.event("begin:" + tag).set()
        try:
            if mode == "SINK":
                h = hashlib.sha1()
                count, _ = recv_all(sock, h, progress=(self.progress, tag))
                self.results[tag] = (count, h.hexdigest())
                sock.sendall(("%d %s\n" % (count, h.hexdigest())).encode())
            elif mode == "SOURCE":
                n, seed = int(words[2]), int(words[3])
                for c in Pattern(seed).chunks(n):
                    sock.sendall(c)
                sock.shutdown(socket.SHUT_WR)
                h = hashlib.sha1()
                count, _ = recv_all(sock, h)
                self.results[tag] = (count, h.hexdigest())
            elif mode == "ECHO":
                while True:
                    data = sock.recv(CHUNK)
                    if not data:
                        break
                    sock.sendall(data)
            elif mode == "HOLD":
                self.release.wait(WAIT * 4)
        except OSError as e:
            self.results[tag] = ("error", str(e))
        finally:
            self.event(tag).set()
            sock.close()

    def wait(self, tag):
        check(self.event(tag).wait(WAIT * 4), "upstream never finished " + tag)
        return self.results.get(tag)

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Server:
    """A demo server started with --port-file on an ephemeral port."""

    def __init__(self, argv, name):
        self.dir = tempfile.mkdtemp(prefix="zcio-demo-test-")
        self.port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "stderr.log")
        self.log = open(self.log_path, "w+")
        self.name = name
        self.proc = subprocess.Popen(argv + ["--port-file", self.port_file],
                                     stderr=self.log)
        atexit.register(self.kill)  # never leave a server behind
        deadline = time.monotonic() + WAIT
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                fail("%s exited with %d before listening:\n%s" %
                     (name, self.proc.returncode, self.stderr()))
            check(time.monotonic() < deadline, name + " never listened")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.start_fds = self.fds()

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def stderr(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def wait_for_log(self, text, count=1):
        deadline = time.monotonic() + WAIT
        while self.stderr().count(text) < count:
            check(self.proc.poll() is None, self.name + " died:\n" +
                  self.stderr())
            check(time.monotonic() < deadline,
                  "%s never logged %r:\n%s" % (self.name, text,
                                               self.stderr()))
            time.sleep(0.05)

    def check_fds(self):
        """The descriptor count must come back to the starting value once
        every connection is closed (closing is asynchronous, so wait)."""
        deadline = time.monotonic() + WAIT
        while self.fds() != self.start_fds:
            if time.monotonic() > deadline:
                fail("%s holds %d descriptors, started with %d: %s" %
                     (self.name, self.fds(), self.start_fds,
                      sorted(os.readlink("/proc/%d/fd/%s" %
                                         (self.proc.pid, f))
                             for f in os.listdir("/proc/%d/fd" %
                                                 self.proc.pid))))
            time.sleep(0.05)

    def stop(self):
        """SIGTERM must make the server exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail(self.name + " ignored SIGTERM:\n" + self.stderr())
        log = self.stderr()
        sys.stderr.write(log)
        check(rc == 0, "%s exited %d on SIGTERM" % (self.name, rc))
        return log

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
