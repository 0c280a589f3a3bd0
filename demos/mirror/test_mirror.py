"""Integration tests of zcio-mirror: the primary and the mirror (socket or
file) receive identical bytes and the primary's reply reaches the client;
a stalled mirror is cut and logged while the primary's transfer completes;
a failing mirror or primary is reported; no descriptor leaks; exit 0 on
SIGTERM with the counters printed.

usage: test_mirror.py MIRROR_BINARY CASE
(CASE: help, identical, file, stalled, failing)
"""

import atexit
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "proxy"))
from demo_harness import (WAIT, Pattern, Server, Upstream, check,  # noqa
                          connect, fail, read_line)

NAME = "zcio-mirror"


def start(binary, primary_port, mirror, *extra):
    return Server([binary, *extra, "127.0.0.1:0",
                   "127.0.0.1:%d" % primary_port, mirror], NAME)


def wait_until(cond, what):
    deadline = time.monotonic() + WAIT
    while not cond():
        check(time.monotonic() < deadline, "timed out waiting for " + what)
        time.sleep(0.001)


def sink_stream(port, tag, total, seed, pace=None):
    """Sends "SINK tag" and total bytes; returns the primary's reply. With
    pace, a function called after each 256 KiB with the bytes sent so far."""
    pat = Pattern(seed)
    sent = 0
    with connect(port) as s:
        s.sendall(b"SINK %s\n" % tag.encode())
        for c in pat.chunks(total):
            s.sendall(c)
            sent += len(c)
            if pace:
                pace(sent)
        s.shutdown(socket.SHUT_WR)
        reply = read_line(s)
        check(s.recv(1) == b"", "no end of stream after the reply")
    return reply, "%d %s" % (total, pat.digest(total))


def case_help(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True,
                         timeout=WAIT)
    check(out.returncode == 0 and "usage:" in out.stdout, "--help")
    for argv in ([], ["a:1", "b:2"], ["--linger"], ["--bogus", "a", "b", "c"],
                 ["127.0.0.1:0", "nohostport", "file:/tmp/x"]):
        out = subprocess.run([binary, *argv], capture_output=True, text=True,
                             timeout=WAIT)
        check(out.returncode != 0 and out.stderr.startswith(NAME + ": "),
              "bad arguments %r gave %d, %r" % (argv, out.returncode,
                                                 out.stderr))


def case_identical(binary):
    """Paced so the mirror can never lag by a full buffer: both must get
    every byte. Then unpaced streams: the primary must get every byte and
    the mirror every byte unless its cut was logged."""
    primary, mirror = Upstream(), Upstream()
    srv = start(binary, primary.port, "127.0.0.1:%d" % mirror.port)

    def pace(sent):
        wait_until(lambda: primary.progress.get("paced") == sent and
                   mirror.progress.get("paced") == sent, "both sinks")

    reply, want = sink_stream(srv.port, "paced", 32 << 20, 7, pace)
    check(reply == want, "primary got %r, want %r" % (reply, want))
    got = mirror.wait("paced")
    check("%d %s" % got == want, "mirror got %r, want %r" % (got, want))

    for i in range(3):
        tag = "fast%d" % i
        reply, want = sink_stream(srv.port, tag, 128 << 20, 20 + i)
        check(reply == want, "primary got %r, want %r" % (reply, want))
        srv.wait_for_log("closed: done", 2 + i)
        if "conn %d: mirror cut" % (2 + i) not in srv.stderr():
            got = mirror.wait(tag)
            check("%d %s" % got == want, "uncut mirror got %r" % (got,))
    srv.wait_for_log("closed: done", 4)
    srv.check_fds()
    log = srv.stop()
    check("mirror complete" in log and "stopped: 4 connections" in log,
          "counters")
    primary.close()
    mirror.close()


def case_file(binary):
    primary = Upstream()
    prefix = os.path.join(primary_dir(), "copy")
    srv = start(binary, primary.port, "file:" + prefix)
    reply, want = sink_stream(srv.port, "tofile", 64 << 20, 9)
    check(reply == want, "primary got %r, want %r" % (reply, want))
    srv.wait_for_log("closed: done")
    h = hashlib.sha1()
    with open(prefix + ".1", "rb") as f:
        header = f.read(len(b"SINK tofile\n"))
        check(header == b"SINK tofile\n", "file header %r" % header)
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    check(want.split()[1] == h.hexdigest(), "file copy differs")
    srv.check_fds()
    log = srv.stop()
    check("mirror complete 1" in log, "counters")
    primary.close()


def primary_dir():
    path = tempfile.mkdtemp(prefix="zcio-mirror-test-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def case_stalled(binary):
    """A mirror that accepts and never reads is cut; the primary's 256 MiB
    transfer completes with the right checksum, and the cut is counted."""
    primary, mirror = Upstream(), Upstream(stall=True)
    srv = start(binary, primary.port, "127.0.0.1:%d" % mirror.port)
    reply, want = sink_stream(srv.port, "stall", 256 << 20, 11)
    check(reply == want, "primary got %r, want %r" % (reply, want))
    srv.wait_for_log("closed: done")
    check("conn 1: mirror cut after" in srv.stderr(), "cut not logged")
    # The next connection gets a fresh mirror connection, also stalled.
    reply, want = sink_stream(srv.port, "stall2", 16 << 20, 12)
    check(reply == want, "second primary reply %r" % reply)
    srv.wait_for_log("closed: done", 2)
    srv.check_fds()
    log = srv.stop()
    check("cut 2" in log, "the cuts were not counted")
    primary.close()
    mirror.close()


def case_failing(binary):
    """A mirror that refuses connections is dropped and the primary served;
    a primary that refuses closes the client."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()

    primary = Upstream()
    srv = start(binary, primary.port, "127.0.0.1:%d" % dead_port)
    reply, want = sink_stream(srv.port, "nomirror", 8 << 20, 13)
    check(reply == want, "primary got %r, want %r" % (reply, want))
    srv.wait_for_log("closed: done")
    check("mirror dropped" in srv.stderr() and
          "Connection refused" in srv.stderr(), "mirror failure not logged")
    srv.check_fds()
    log = srv.stop()
    check("failed 1" in log, "counters")

    srv = start(binary, dead_port, "127.0.0.1:%d" % primary.port)
    with connect(srv.port) as s:
        s.sendall(b"SINK x\n")
        try:  # unread bytes make the close a reset
            check(s.recv(1) == b"", "client not closed when primary refused")
        except ConnectionResetError:
            pass
    srv.wait_for_log("connect to primary: Connection refused")
    srv.check_fds()
    srv.stop()
    primary.close()


CASES = {name[5:]: f for name, f in globals().items()
         if name.startswith("case_")}

if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        fail("usage: test_mirror.py BINARY {%s}" % ",".join(CASES))
    CASES[sys.argv[2]](sys.argv[1])
    print("PASS " + sys.argv[2])
