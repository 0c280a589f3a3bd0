"""Integration tests of zcio-proxy: checksummed bulk streams each way,
half-close in both directions, concurrent streams, the connection limit,
the connect timeout and refusals, no descriptor leaks, exit 0 on SIGTERM.

usage: test_proxy.py PROXY CASE  (CASE: help, up, down, halfclose,
concurrent, limits; the sizes come from ZCIO_PROXY_TEST_BYTES, 1 GiB by
default)
"""

import hashlib
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_harness import (WAIT, Pattern, Server, Upstream, check,  # noqa
                          connect, fail, read_line, recv_all)

BULK = int(os.environ.get("ZCIO_PROXY_TEST_BYTES", str(1 << 30)))


def start(proxy, upstream_port, *extra):
    return Server([proxy, *extra, "127.0.0.1:0",
                   "127.0.0.1:%d" % upstream_port], "zcio-proxy")


def case_help(proxy):
    out = subprocess.run([proxy, "--help"], capture_output=True, text=True,
                         timeout=WAIT)
    check(out.returncode == 0 and "usage:" in out.stdout, "--help")
    for argv in ([], ["--max-conns", "0", "a:1", "b:2"], ["--bogus"],
                 ["only:1"], ["nohostport", "127.0.0.1:1"]):
        out = subprocess.run([proxy, *argv], capture_output=True, text=True,
                             timeout=WAIT)
        check(out.returncode != 0 and out.stderr.startswith("zcio-proxy: "),
              "bad arguments %r gave %d, %r" % (argv, out.returncode,
                                                 out.stderr))


def case_up(proxy):
    """BULK bytes client -> upstream; the client shuts down writing and
    still gets the upstream's reply through the proxy."""
    up = Upstream()
    srv = start(proxy, up.port)
    pat = Pattern(1)
    with connect(srv.port) as s:
        s.sendall(b"SINK up\n")
        for c in pat.chunks(BULK):
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        reply = read_line(s)
        check(s.recv(1) == b"", "no end of stream after the reply")
    want = "%d %s" % (BULK, pat.digest(BULK))
    check(reply == want, "upstream got %r, want %r" % (reply, want))
    srv.wait_for_log("closed: done")
    srv.check_fds()
    log = srv.stop()
    check("%d bytes up" % (BULK + len(b"SINK up\n")) in log, "log line")
    up.close()


def case_down(proxy):
    """BULK bytes upstream -> client; after the upstream's end of stream
    the client's own bytes still reach the upstream."""
    up = Upstream()
    srv = start(proxy, up.port)
    pat = Pattern(2)
    with connect(srv.port) as s:
        s.sendall(b"SOURCE down %d 2\n" % BULK)
        h = hashlib.sha1()
        count, _ = recv_all(s, h)
        check(count == BULK and h.hexdigest() == pat.digest(BULK),
              "client got %d bytes, checksum mismatch or short" % count)
        tail = Pattern(3)
        for c in tail.chunks(5 << 20):
            s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        check(s.recv(1) == b"", "stream not closed")
    got = up.wait("down")
    check(got == (5 << 20, tail.digest(5 << 20)),
          "upstream got %r after its own end of stream" % (got,))
    srv.wait_for_log("closed: done")
    srv.check_fds()
    srv.stop()
    up.close()


def case_halfclose(proxy):
    """Small streams, both half-close orders, many times over."""
    up = Upstream()
    srv = start(proxy, up.port)
    for i in range(20):
        with connect(srv.port) as s:
            s.sendall(b"SINK h%d\nabc" % i)
            s.shutdown(socket.SHUT_WR)
            reply = read_line(s)
            want = "3 " + hashlib.sha1(b"abc").hexdigest()
            check(reply == want, "reply %r" % reply)
        with connect(srv.port) as s:
            s.sendall(b"SOURCE s%d 10 5\n" % i)
            count, data = recv_all(s, keep=True)
            check(bytes(data) == bytes(Pattern(5).block[:10]), "source")
            s.sendall(b"late")
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
        got = up.wait("s%d" % i)
        check(got == (4, hashlib.sha1(b"late").hexdigest()), "late bytes")
    srv.wait_for_log("closed: done", 40)
    srv.check_fds()
    srv.stop()
    up.close()


def case_concurrent(proxy):
    """100 echo streams at once, each with its own bytes and size."""
    up = Upstream()
    srv = start(proxy, up.port)
    errors = []

    def stream(i):
        try:
            size = (1 << 20) + i * 4099
            pat = Pattern(100 + i)
            with connect(srv.port) as s:
                s.sendall(b"ECHO c%d\n" % i)

                def send():
                    for c in pat.chunks(size, 65536):
                        s.sendall(c)
                    s.shutdown(socket.SHUT_WR)
                t = threading.Thread(target=send)
                t.start()
                h = hashlib.sha1()
                count, _ = recv_all(s, h)
                t.join()
            if count != size or h.hexdigest() != pat.digest(size):
                errors.append("stream %d: %d of %d bytes" % (i, count, size))
        except OSError as e:
            errors.append("stream %d: %s" % (i, e))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "; ".join(errors))
    srv.wait_for_log("closed: done", 100)
    srv.check_fds()
    srv.stop()
    up.close()


def case_limits(proxy):
    """--max-conns refuses the connection past the limit and serves again
    once one closes; a refused upstream and an upstream that never answers
    (--connect-timeout) close the client with a logged reason."""
    up = Upstream()
    srv = start(proxy, up.port, "--max-conns", "2")
    held = [connect(srv.port), connect(srv.port)]
    for i, s in enumerate(held):
        s.sendall(b"HOLD held%d\n" % i)
    for i in range(2):  # both are through the proxy; a third is one over
        check(up.event("begin:held%d" % i).wait(WAIT), "held%d" % i)
    extra = connect(srv.port)
    check(extra.recv(1) == b"", "the third connection was not refused")
    extra.close()
    srv.wait_for_log("refused, max-conns 2 reached")
    held[0].close()
    up.release.set()
    held[1].close()
    srv.wait_for_log("closed:", 2)
    with connect(srv.port) as s:
        s.sendall(b"SINK after\nxyz")
        s.shutdown(socket.SHUT_WR)
        check(read_line(s).startswith("3 "), "no service after the limit")
    srv.wait_for_log("closed: done")
    srv.check_fds()
    srv.stop()
    up.close()

    # Nothing listens on a port we bound and closed: connection refused.
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()
    srv = start(proxy, dead_port)
    with connect(srv.port) as s:
        check(s.recv(1) == b"", "client not closed when upstream refused")
    srv.wait_for_log("Connection refused")
    srv.check_fds()
    srv.stop()

    # A listener whose one-slot backlog is full drops further SYNs, so a
    # connect to it never completes.
    jam = socket.socket()
    jam.bind(("127.0.0.1", 0))
    jam.listen(0)
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(jam.getsockname())
        fillers.append(f)
    srv = start(proxy, jam.getsockname()[1], "--connect-timeout", "0.5")
    with connect(srv.port) as s:
        check(s.recv(1) == b"", "client not closed on connect timeout")
    srv.wait_for_log("timed out")
    srv.check_fds()
    srv.stop()
    for f in fillers:
        f.close()
    jam.close()


CASES = {name[5:]: f for name, f in globals().items()
         if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        fail("usage: test_proxy.py PROXY {%s}" % ",".join(CASES))
    CASES[sys.argv[2]](sys.argv[1])
    print("PASS " + sys.argv[2])
