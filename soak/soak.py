#!/usr/bin/env python3
"""Bounded loopback soak of zcio-httpd or zcio-proxy: many concurrent
clients for a fixed time, every byte checked by SHA-256, and at the end the
server's descriptors back where they started and exit 0 on SIGTERM.

usage: soak.py httpd ZCIO_HTTPD [--seconds N] [--conns N]
       soak.py proxy ZCIO_PROXY [--seconds N] [--conns N]

Prints one line of figures. Standard library only; nothing is timed as a
pass/fail criterion, the limits only bound a hung server.
"""

import argparse
import hashlib
import os
import random
import selectors
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

WAIT = 60  # seconds: the most any single wait may take before it fails
CHUNK = 256 * 1024


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = self.bytes = self.conns = self.aborted = 0
        self.errors = []

    def add(self, requests=0, nbytes=0, conns=0, aborted=0):
        with self.lock:
            self.requests += requests
            self.bytes += nbytes
            self.conns += conns
            self.aborted += aborted

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)


class Server:
    """The program under test on an ephemeral loopback port."""

    def __init__(self, argv, workdir):
        self.log_path = os.path.join(workdir, "server.log")
        port_file = os.path.join(workdir, "port")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv + ["--port-file", port_file],
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + WAIT
        while not os.path.exists(port_file):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                fail("server did not start:\n" + self.tail())
            time.sleep(0.02)
        with open(port_file) as f:
            self.port = int(f.read())
        self.start_fds = self.fds()

    def fd_targets(self):
        d = "/proc/%d/fd" % self.proc.pid
        out = []
        for name in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, name)))
            except FileNotFoundError:
                pass
        return out

    def fds(self):
        """(descriptors other than pipes, pipes): zcio's pool may keep idle
        pipes for reuse, bounded by its max_pipes (64 at most)."""
        targets = self.fd_targets()
        pipes = sum(1 for t in targets if t.startswith("pipe:"))
        return len(targets) - pipes, pipes

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines=30):
        self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def wait_fds(self):
        """Closing is asynchronous: wait until every connection is gone."""
        deadline = time.monotonic() + WAIT
        while True:
            other, pipes = self.fds()
            if other == self.start_fds[0] and pipes <= 2 * 64:
                return other, pipes
            if time.monotonic() > deadline:
                fail("server holds %d descriptors and %d pipe ends, started "
                     "with %d and %d: %s" %
                     (other, pipes, *self.start_fds,
                      sorted(self.fd_targets())))
            time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            fail("server ignored SIGTERM:\n" + self.tail())
        if rc != 0:
            fail("server exited %d on SIGTERM:\n%s" % (rc, self.tail()))


# --- zcio-httpd --------------------------------------------------------------

FILE_SIZES = [0, 1, 4095, 4096, 65537, 1000003, 8 << 20]


def make_root(root, rng):
    files = {}
    for size in FILE_SIZES:
        name = "f%d.bin" % size
        data = rng.randbytes(size)
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
        files[name] = data
    return files


def read_response(sock, buf, method):
    """Returns (status, body, rest of buffer) for one response."""
    while b"\r\n\r\n" not in buf:
        more = sock.recv(65536)
        if not more:
            raise EOFError("connection closed before the response head")
        buf += more
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value)
    if method == "HEAD":
        return status, b"", buf
    while len(buf) < length:
        more = sock.recv(max(65536, length - len(buf)))
        if not more:
            raise EOFError("connection closed mid-body")
        buf += more
    return status, buf[:length], buf[length:]


def httpd_client(port, files, deadline, stats, seed):
    rng = random.Random(seed)
    names = sorted(files)
    while time.monotonic() < deadline:
        sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        stats.add(conns=1)
        buf = b""
        try:
            # A run of keep-alive requests, then a new connection.
            for _ in range(rng.randint(1, 20)):
                if time.monotonic() >= deadline:
                    break
                name = rng.choice(names)
                data = files[name]
                method = "HEAD" if rng.random() < 0.1 else "GET"
                extra, want, code = "", data, 200
                if data and rng.random() < 0.3:
                    a = rng.randrange(len(data))
                    b = rng.randrange(a, len(data))
                    extra = "Range: bytes=%d-%d\r\n" % (a, b)
                    want, code = data[a:b + 1], 206
                req = "%s /%s HTTP/1.1\r\nHost: soak\r\n%s\r\n" % (
                    method, name, extra)
                sock.sendall(req.encode())
                if method == "GET" and len(want) > CHUNK and \
                        rng.random() < 0.05:
                    # Leave mid-body: the server must cut only this one.
                    sock.recv(CHUNK)
                    stats.add(aborted=1)
                    break
                status, body, buf = read_response(sock, buf, method)
                if status != code:
                    stats.error("%s %s: status %d, want %d" %
                                (method, name, status, code))
                    return
                if method == "GET" and \
                        hashlib.sha256(body).digest() != \
                        hashlib.sha256(want).digest():
                    stats.error("%s %s %s: body differs" %
                                (method, name, extra.strip()))
                    return
                stats.add(requests=1, nbytes=len(body))
        except (OSError, EOFError) as e:
            stats.error("client: %r" % e)
            return
        finally:
            sock.close()


def soak_httpd(prog, args, workdir):
    root = os.path.join(workdir, "www")
    os.mkdir(root)
    files = make_root(root, random.Random(7))
    srv = Server([prog, "--root", root, "--listen", "127.0.0.1:0",
                  "--max-conns", str(args.conns * 2)], workdir)
    return srv, lambda deadline, stats, i: httpd_client(
        srv.port, files, deadline, stats, i)


# --- zcio-proxy --------------------------------------------------------------

class Echo(socketserver.ThreadingTCPServer):
    """The upstream: echoes every byte until the client's end of stream."""
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # the default 5 drops SYNs under this load

    def __init__(self):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                s = self.request
                while True:
                    data = s.recv(CHUNK)
                    if not data:
                        break
                    s.sendall(data)
                s.shutdown(socket.SHUT_WR)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def echo_round(port, payload):
    """Streams payload through the proxy and the echo; returns the echo's
    SHA-256 and length, sending and receiving at once."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
    view, sent, got = memoryview(payload), 0, 0
    h = hashlib.sha256()
    deadline = time.monotonic() + WAIT
    try:
        while True:
            events = sel.select(1.0)
            if time.monotonic() > deadline:
                raise TimeoutError("echo stalled at %d/%d bytes" %
                                   (got, len(payload)))
            for _, mask in events:
                if mask & selectors.EVENT_WRITE:
                    try:
                        sent += sock.send(view[sent:sent + CHUNK])
                    except BlockingIOError:
                        pass
                    if sent == len(payload):
                        sock.shutdown(socket.SHUT_WR)
                        sel.modify(sock, selectors.EVENT_READ)
                if mask & selectors.EVENT_READ:
                    try:
                        data = sock.recv(CHUNK)
                    except BlockingIOError:
                        continue
                    if not data:
                        return h.digest(), got
                    h.update(data)
                    got += len(data)
    finally:
        sel.close()
        sock.close()


def proxy_client(port, deadline, stats, seed):
    rng = random.Random(seed)
    block = rng.randbytes(4 << 20)
    while time.monotonic() < deadline:
        n = rng.choice([1, 1000, 65536, 300001, 4 << 20])
        start = rng.randrange(len(block) - n + 1)
        payload = block[start:start + n]
        try:
            digest, got = echo_round(port, payload)
        except (OSError, TimeoutError) as e:
            stats.error("client: %r" % e)
            return
        stats.add(conns=1)
        if got != n or digest != hashlib.sha256(payload).digest():
            stats.error("echo of %d bytes came back as %d different bytes"
                        % (n, got))
            return
        stats.add(requests=1, nbytes=2 * n)


def soak_proxy(prog, args, workdir):
    echo = Echo()
    srv = Server([prog, "--max-conns", str(args.conns * 2), "127.0.0.1:0",
                  "127.0.0.1:%d" % echo.server_address[1]], workdir)
    return srv, lambda deadline, stats, i: proxy_client(
        srv.port, deadline, stats, i)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=["httpd", "proxy"])
    p.add_argument("program")
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--conns", type=int, default=64)
    args = p.parse_args()

    workdir = tempfile.mkdtemp(prefix="zcio-soak-")
    try:
        start = soak_httpd if args.kind == "httpd" else soak_proxy
        srv, client = start(args.program, args, workdir)
        stats = Stats()
        t0 = time.monotonic()
        deadline = t0 + args.seconds
        threads = [threading.Thread(target=client, args=(deadline, stats, i),
                                    daemon=True)
                   for i in range(args.conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(args.seconds + WAIT)
            if t.is_alive():
                fail("a client hung:\n" + srv.tail())
        elapsed = time.monotonic() - t0
        if srv.proc.poll() is not None:
            fail("server died:\n" + srv.tail())
        other, pipes = srv.wait_fds()
        cpu = srv.cpu_seconds()
        srv.stop()
        print("soak %s: %d s, %d clients, %d connections, %d exchanges "
              "(%.0f/s), %.1f MB checked (%.1f MB/s), %d left mid-body, "
              "server cpu %.1f s, fds %d->%d (+%d->%d pipe ends), "
              "%d errors" %
              (args.kind, round(elapsed), args.conns, stats.conns,
               stats.requests, stats.requests / elapsed, stats.bytes / 1e6,
               stats.bytes / 1e6 / elapsed, stats.aborted, cpu,
               srv.start_fds[0], other, srv.start_fds[1], pipes,
               len(stats.errors)), flush=True)
        if stats.errors:
            fail("%d clients failed, first: %s\n%s" %
                 (len(stats.errors), stats.errors[0], srv.tail()))
        if stats.requests == 0:
            fail("no exchange completed")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
