#!/usr/bin/env python3
"""Benchmark zcio-httpd against nginx (sendfile on) with wrk over loopback.

Two loads: one 256 MiB file fetched over and over by a few connections, and
many 4 KiB files fetched at random by many connections. Each server runs
alone on its own loopback port with one worker, serving the same generated
files; rounds alternate the servers. Throughput comes from wrk's own
summary; server CPU per GB is the change in utime+stime of every server
process in /proc/PID/stat, since a client-side timer cannot see what the
server saves. The congestion control in force is recorded.

Not a test: run it by hand (as root for nginx's defaults and --cc):
  demos/httpd/bench-nginx.py [--httpd build/demos/httpd/zcio-httpd]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1024 * 1024
PROG = "bench-nginx"
CLK_TCK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))

# wrk prints its summary through this hook, exactly and machine-readably.
DONE_LUA = """
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format("ZCIO_BENCH %d %d %d %d %d %d\\n", s.duration,
    s.requests, s.bytes, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(99)))
end
"""

RANDOM_LUA = """
local n = %d
request = function()
  local i = math.random(0, n - 1)
  return wrk.format("GET", string.format("/small/%%d.txt", i))
end
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
master_process on;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 4096; use epoll; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/nginx-access.log;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 100000000;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def log(msg):
    print("%s: %s" % (PROG, msg), file=sys.stderr, flush=True)


def die(msg):
    log(msg)
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            die("%s exited at start (status %d)" % (name, proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    die("%s never listened on port %d" % (name, port))


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(p) for p in f.read().split()]
    return out


def get_status(port, path):
    with socket.create_connection(("127.0.0.1", port), 10) as s:
        s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                   "\r\n\r\n" % path).encode())
        return int(s.recv(4096).split(b" ", 2)[1])


class Server:
    def __init__(self, name, argv, port, tmp):
        self.name = name
        self.port = port
        self.err = open(os.path.join(tmp, name + ".stderr"), "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err)
        wait_port(port, self.proc, name)
        # nginx's master forks its worker; the worker does the serving.
        self.pids = [self.proc.pid] + children(self.proc.pid)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.err.close()
        return rc


def start_zcio(args, tmp, root):
    port = free_port()
    return Server("zcio-httpd",
                  [args.httpd, "--root", root, "--listen",
                   "127.0.0.1:%d" % port, "--max-conns", "4096"],
                  port, tmp)


def start_nginx(args, tmp, root):
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    user = "user root;" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=port, root=root, user=user))
    return Server("nginx", [args.nginx, "-c", conf, "-p", tmp], port, tmp)


def run_wrk(args, srv, path, conns, script, seconds):
    before = cpu_ticks(srv.pids)
    out = subprocess.run(
        [args.wrk, "-t", str(args.threads), "-c", str(conns),
         "-d", "%ds" % seconds, "--timeout", "30s", "-s", script,
         "http://127.0.0.1:%d%s" % (srv.port, path)],
        capture_output=True, text=True, timeout=seconds + 120)
    cpu_s = (cpu_ticks(srv.pids) - before) / CLK_TCK
    line = [x for x in out.stdout.splitlines() if x.startswith("ZCIO_BENCH")]
    if out.returncode != 0 or not line:
        die("wrk failed against %s:\n%s%s" % (srv.name, out.stdout,
                                              out.stderr))
    us, reqs, nbytes, bad_status, sock_err, p99 = map(int, line[0].split()[1:])
    if bad_status or sock_err:
        die("%s: %d non-2xx answers and %d socket errors under wrk"
            % (srv.name, bad_status, sock_err))
    secs = us / 1e6
    return {"req_s": reqs / secs, "gb_s": nbytes / secs / 1e9,
            "cpu_ms_per_gb": cpu_s * 1e3 / (nbytes / 1e9),
            "cpu_pct": 100.0 * cpu_s / secs, "p99_ms": p99 / 1e3,
            "bytes": nbytes}


def make_files(root, big_size, nsmall):
    os.makedirs(os.path.join(root, "small"))
    with open(os.path.join(root, "big.bin"), "wb") as f:
        left = big_size
        while left:
            n = min(left, 16 * MIB)
            f.write(os.urandom(n))
            left -= n
    for i in range(nsmall):
        with open(os.path.join(root, "small", "%d.txt" % i), "wb") as f:
            f.write(os.urandom(4096))
    # Both servers read from the page cache, never the disk.
    subprocess.run(["cat", os.path.join(root, "big.bin")],
                   stdout=subprocess.DEVNULL, check=True)


def median_row(results):
    return {k: statistics.median(r[k] for r in results)
            for k in results[0]}


def set_cc(name):
    path = "/proc/sys/net/ipv4/tcp_congestion_control"
    with open(path) as f:
        old = f.read().strip()
    if name and name != old:
        with open(path, "w") as f:
            f.write(name)
    return old


def bench(args, tmp, root):
    loads = [("large-256M", "/big.bin", args.large_conns, "done.lua"),
             ("small-4K", "/", args.small_conns, "random.lua")]
    starters = [("zcio-httpd", start_zcio), ("nginx", start_nginx)]
    results = {}
    for load, path, conns, script in loads:
        script = os.path.join(tmp, script)
        for rnd in range(args.rounds):
            order = starters if rnd % 2 == 0 else starters[::-1]
            for name, start in order:
                srv = start(args, tmp, root)
                probe = path if path != "/" else "/small/0.txt"
                if get_status(srv.port, probe) != 200:
                    die("%s does not serve %s" % (name, probe))
                run_wrk(args, srv, path, conns, script, args.warmup)
                r = run_wrk(args, srv, path, conns, script, args.duration)
                rc = srv.stop()
                if rc != 0:
                    die("%s exited %d on SIGTERM" % (name, rc))
                log("%s %s round %d: %.3f GB/s, %.0f req/s, %.1f cpu_ms/GB"
                    % (load, name, rnd + 1, r["gb_s"], r["req_s"],
                       r["cpu_ms_per_gb"]))
                results.setdefault((load, name), []).append(r)
    return {k: median_row(v) for k, v in results.items()}


def print_table(rows, meta):
    print("# %s" % " ".join("%s=%s" % kv for kv in meta.items()))
    print("%-11s %-10s %10s %8s %10s %7s %8s %9s %9s"
          % ("load", "server", "req/s", "GB/s", "cpu_ms/GB", "cpu%",
             "p99_ms", "GB/s_vs", "cpu/GB_vs"))
    for load in ("large-256M", "small-4K"):
        base = rows[(load, "nginx")]
        for name in ("nginx", "zcio-httpd"):
            r = rows[(load, name)]
            print("%-11s %-10s %10.0f %8.3f %10.1f %7.1f %8.2f %9.2f %9.2f"
                  % (load, name, r["req_s"], r["gb_s"], r["cpu_ms_per_gb"],
                     r["cpu_pct"], r["p99_ms"], r["gb_s"] / base["gb_s"],
                     r["cpu_ms_per_gb"] / base["cpu_ms_per_gb"]))


def parse_args():
    repo = os.path.dirname(os.path.dirname(HERE))
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        epilog="Ratios (_vs) divide zcio-httpd's median by nginx's.")
    ap.add_argument("--httpd", default=os.path.join(
        repo, "build", "demos", "httpd", "zcio-httpd"))
    ap.add_argument("--nginx", default=shutil.which("nginx") or
                    "/usr/sbin/nginx")
    ap.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    ap.add_argument("--dir", help="where to generate the files "
                    "(default $TMPDIR)")
    ap.add_argument("--duration", type=int, default=10,
                    help="seconds per timed run (default 10)")
    ap.add_argument("--warmup", type=int, default=2,
                    help="seconds of untimed load first (default 2)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timed runs per server and load, servers "
                         "alternating; medians reported (default 3)")
    ap.add_argument("--threads", type=int, default=1,
                    help="wrk threads (default 1: the machine has two "
                         "cores, one for the server)")
    ap.add_argument("--large-conns", type=int, default=4)
    ap.add_argument("--small-conns", type=int, default=64)
    ap.add_argument("--small-files", type=int, default=1000)
    ap.add_argument("--big-size", type=int, default=256,
                    help="MiB (default 256)")
    ap.add_argument("--cc", help="set this congestion control for the run "
                    "(root only; restored afterwards)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for what in ("httpd", "nginx", "wrk"):
        exe = getattr(args, what)
        if not (os.access(exe, os.X_OK) or shutil.which(exe)):
            die("no %s at %s (Debian packages: nginx, wrk)" % (what, exe))
    return args


def main():
    args = parse_args()
    old_cc = set_cc(args.cc)
    try:
        with tempfile.TemporaryDirectory(prefix="zcio-bench-nginx-",
                                         dir=args.dir) as tmp:
            os.chmod(tmp, 0o755)
            root = os.path.join(tmp, "www")
            make_files(root, args.big_size * MIB, args.small_files)
            with open(os.path.join(tmp, "done.lua"), "w") as f:
                f.write(DONE_LUA)
            with open(os.path.join(tmp, "random.lua"), "w") as f:
                f.write(RANDOM_LUA % args.small_files + DONE_LUA)
            meta = {"cc": set_cc(None), "kernel": os.uname().release,
                    "cpus": os.cpu_count(), "rounds": args.rounds,
                    "duration_s": args.duration,
                    "large_conns": args.large_conns,
                    "small_conns": args.small_conns,
                    "wrk_threads": args.threads}
            rows = bench(args, tmp, root)
    finally:
        set_cc(old_cc)
    if args.json:
        print(json.dumps({"meta": meta, "results": [
            dict(load=k[0], server=k[1], **v) for k, v in rows.items()]},
            indent=1))
    else:
        print_table(rows, meta)


if __name__ == "__main__":
    main()
