#!/usr/bin/env python3
"""Benchmark: zcio-proxy against rw-proxy (read/write, 64 KiB buffer) and
socat, over loopback TCP. Not a test: run it by hand (see README.md).

A client sends --size bytes with sendfile(2) from a file in the page cache,
through the proxy, to a sink process that splices them to /dev/null and
reports the count, so both ends are cheap and the proxy is what differs. Methods are interleaved round by round; each cell is the median over
--rounds. Throughput is bytes / wall time from connect to the sink's count;
proxy CPU is the proxy process's utime + stime from /proc/PID/stat over the
same span, per GB moved. The congestion control in force is recorded (and
with --cc, as root, set for the run and restored).

usage: bench-proxy.py [--build DIR] [--size BYTES] [--rounds N] [--cc NAME]
                      [--json]
"""

import argparse
import atexit
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CC_PATH = "/proc/sys/net/ipv4/tcp_congestion_control"
TICK = os.sysconf("SC_CLK_TCK")
ZCIO_ARGS = []  # --zcio-args


def sink_main(port_file):
    """Accepts connections one at a time; prints each one's byte count."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    # The sink splices into /dev/null so it costs little CPU and the
    # proxy, not the receiver, is what the run measures.
    r, w = os.pipe()
    null = os.open("/dev/null", os.O_WRONLY)
    while True:
        s, _ = ls.accept()
        count = 0
        while True:
            n = os.splice(s.fileno(), w, 1 << 20)
            if n == 0:
                break
            count += n
            while n > 0:
                n -= os.splice(r, null, n)
        s.close()
        print(count, flush=True)


def wait_port(path, proc):
    for _ in range(3000):
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        if proc.poll() is not None:
            sys.exit("bench-proxy: %s exited early" % proc.args[0])
        time.sleep(0.01)
    sys.exit("bench-proxy: %s never listened" % proc.args[0])


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def connect(port, proc):
    """socat has no readiness signal: retry a refused connect while it
    runs; None if it exited (its port was taken)."""
    for _ in range(1000):
        try:
            return socket.create_connection(("127.0.0.1", port))
        except ConnectionRefusedError:
            if proc.poll() is not None:
                return None
            time.sleep(0.01)
    sys.exit("bench-proxy: nothing listens on port %d" % port)


def cpu_seconds(pid):
    """utime + stime of a process, its threads included."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_proxy(method, build, sink_port, tmp):
    pf = os.path.join(tmp, method + ".port")
    if os.path.exists(pf):
        os.unlink(pf)  # a stale port from the last round would be read
    up = "127.0.0.1:%d" % sink_port
    if method == "zcio-proxy":
        argv = [os.path.join(build, "zcio-proxy"), "--port-file", pf,
                *ZCIO_ARGS, "127.0.0.1:0", up]
    elif method == "rw-64k":
        argv = [os.path.join(build, "rw-proxy"), "--buffer", "65536",
                "--port-file", pf, "0", "127.0.0.1", str(sink_port)]
    else:  # socat serves one connection per process without fork
        port = free_port()
        with open(pf, "w") as f:
            f.write(str(port))
        argv = ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr" % port,
                "TCP:" + up]
    proc = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    port = wait_port(pf, proc)
    return proc, port


def one_run(method, build, sink, sink_port, src, size, tmp):
    for _ in range(5):
        proc, port = start_proxy(method, build, sink_port, tmp)
        s = connect(port, proc)
        if s:
            break
        proc.wait()
    try:
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.perf_counter()
        with s, open(src, "rb") as f:
            sent = 0
            while sent < size:
                sent += s.sendfile(f, 0, min(size - sent,
                                             os.fstat(f.fileno()).st_size))
            s.shutdown(socket.SHUT_WR)
            got = int(sink.stdout.readline())
        t1 = time.perf_counter()
        cpu1 = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait()
    if got != size:
        sys.exit("bench-proxy: %s delivered %d of %d bytes" %
                 (method, got, size))
    return t1 - t0, cpu1 - cpu0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(
        HERE, "..", "..", "build", "demos", "proxy"))
    ap.add_argument("--size", type=int, default=2 << 30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--cc", help="congestion control to set for the run")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--zcio-args", default="",
                    help="extra zcio-proxy options, e.g. '--pipe-size 4M'")
    ap.add_argument("--sink", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sink:
        return sink_main(args.sink)
    ZCIO_ARGS.extend(args.zcio_args.split())

    methods = ["rw-64k", "zcio-proxy"]
    if shutil.which("socat"):
        methods.append("socat")
    else:
        print("bench-proxy: socat not found (Debian package socat); "
              "skipping it", file=sys.stderr)
    with open(CC_PATH) as f:
        old_cc = f.read().strip()
    if args.cc:
        with open(CC_PATH, "w") as f:
            f.write(args.cc)
    tmp = tempfile.mkdtemp(prefix="zcio-bench-proxy-")
    try:
        with open(CC_PATH) as f:
            cc = f.read().strip()
        src = os.path.join(tmp, "source")
        block = os.urandom(1 << 20)
        with open(src, "wb") as f:
            for _ in range(min(args.size, 512 << 20) >> 20):
                f.write(block)
        sink_pf = os.path.join(tmp, "sink.port")
        sink = subprocess.Popen([sys.executable, __file__, "--sink",
                                 sink_pf], stdout=subprocess.PIPE, text=True)
        atexit.register(sink.kill)
        sink_port = wait_port(sink_pf, sink)
        results = {m: [] for m in methods}
        for _ in range(args.rounds):
            for m in methods:
                results[m].append(one_run(m, args.build, sink, sink_port,
                                          src, args.size, tmp))
                print("bench-proxy: %s %.3f s, %.3f CPU s" %
                      (m, *results[m][-1]), file=sys.stderr)
        sink.kill()
        sink.wait()
    finally:
        if args.cc:
            with open(CC_PATH, "w") as f:
                f.write(old_cc)
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, args, cc)


def report(results, args, cc):
    rows = []
    for m, runs in results.items():
        secs = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rows.append({"method": m, "bytes": args.size,
                     "median_ms": secs * 1e3,
                     "gbps": args.size / secs / 1e9,
                     "cpu_ms_per_gb": cpu * 1e3 / (args.size / 1e9)})
    base = rows[0]
    for r in rows:
        r["gbps_vs_rw64k"] = r["gbps"] / base["gbps"]
        r["cpu_vs_rw64k"] = (r["cpu_ms_per_gb"] / base["cpu_ms_per_gb"]
                             if base["cpu_ms_per_gb"] else float("nan"))
    if args.json:
        print(json.dumps({"congestion_control": cc, "rounds": args.rounds,
                          "kernel": os.uname().release, "results": rows},
                         indent=2))
        return
    print("congestion control: %s, kernel %s, %d rounds of %d bytes, "
          "%d CPUs" % (cc, os.uname().release, args.rounds, args.size,
                       os.cpu_count()))
    print("%-11s %11s %9s %9s %12s %12s" % (
        "method", "median_ms", "GB/s", "cpu_ms/GB", "GB/s_vs_rw", "cpu_vs_rw"))
    for r in rows:
        print("%-11s %11.1f %9.3f %9.1f %12.2f %12.2f" % (
            r["method"], r["median_ms"], r["gbps"], r["cpu_ms_per_gb"],
            r["gbps_vs_rw64k"], r["cpu_vs_rw64k"]))


if __name__ == "__main__":
    main()
