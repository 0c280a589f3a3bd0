#!/usr/bin/env python3
"""Run zcio's benchmark suite and write report.md, report.json and plot.png.

One command, bounded time (about 3 to 5 minutes on a 2-core VM; --quick is
a smoke run of well under a minute whose numbers mean nothing):

    python3 benches/run.py [--out DIR] [--build DIR] [--data-dir DIR]

Scenarios (method and targets: benches/README.md):
  overhead   each zcio call against a C loop of the raw system call
             (benches/overhead.c), 4 KiB, 64 KiB, 1 MiB, 256 MiB
  file-tcp   file to loopback TCP: zcio-bench's methods and Go's io.Copy
             (benches/gocopy), same sizes
  tee        one stream to two consumers: zcio_tee against read + 2 writes
  file-file  zcio_copy against read/write and cp, mappings against pread
  switches   CPU and context switches per transfer and per MiB, from
             getrusage of the whole sender and receiver processes

Every scenario runs at least --rounds (7) interleaved rounds; every ratio
is computed within a round against that round's baseline, and the report
gives the median, min and max of the per-round values.
"""

import argparse
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
KIB = 1024
MIB = 1024 * 1024
SIZES = [4 * KIB, 64 * KIB, MIB, 256 * MIB]
QUICK_SIZES = [4 * KIB, MIB, 16 * MIB]
# Transfers per zcio-bench or gocopy invocation (one invocation per round):
# enough that a round's median of small transfers is not one scheduler tick.
TRANSFERS = {4 * KIB: 200, 64 * KIB: 100, MIB: 30, 16 * MIB: 4,
             256 * MIB: 3}
BENCH_METHODS = ["rw-64k", "rw-1m", "raw-sendfile", "sendfile",
                 "raw-splice", "splice", "copy", "mmap"]
# What each method copies with the CPU on the sending side, by design.
CPU_COPIES = {"rw-64k": 2, "rw-1m": 2, "mmap": 1, "raw-sendfile": 0,
              "sendfile": 0, "raw-splice": 0, "splice": 0, "copy": 0,
              "go-io.Copy": 0}
OVERHEAD_TARGET = {4 * KIB: 1.10}  # time ratio; 1.03 from 64 KiB up


def log(msg):
    print("run.py: " + msg, file=sys.stderr, flush=True)


def human(n):
    for unit, div in (("G", 1 << 30), ("M", MIB), ("K", KIB)):
        if n >= div and n % div == 0:
            return "%d%s" % (n // div, unit)
    return str(n)


def stats(values):
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def fmt(s, digits=2):
    if s is None:
        return "-"
    return "%.*f [%.*f–%.*f]" % (digits, s["median"], digits, s["min"],
                                 digits, s["max"])


def verdict(ok):
    return "MET" if ok else "NOT MET"


# --- environment -------------------------------------------------------------

def read(path, default="unknown"):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return default


def environment(data_dir):
    cpu = "unknown"
    for line in read("/proc/cpuinfo", "").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,OPTIONS",
                         "-T", data_dir],
                        capture_output=True, text=True).stdout.strip()
    go = shutil.which("go")
    gov = (subprocess.run([go, "version"], capture_output=True,
                          text=True).stdout.strip() if go else None)
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always",
                          "--dirty"], capture_output=True, text=True)
    return {
        "kernel": platform.release(),
        "cpu_model": cpu,
        "cpus": os.cpu_count(),
        "data_dir": data_dir,
        "data_fs": fs or "unknown",
        "default_congestion_control":
            read("/proc/sys/net/ipv4/tcp_congestion_control"),
        "available_congestion_control":
            read("/proc/sys/net/ipv4/tcp_available_congestion_control"),
        "go": gov,
        "git": git.stdout.strip() or None,
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "loadavg_at_start": read("/proc/loadavg"),
    }


# --- building ----------------------------------------------------------------

def find_or_build(args, name, src):
    """The CMake-built program, else one compiled here against libzcio."""
    built = os.path.join(args.build, "benches", name)
    if os.path.exists(built):
        return built
    lib = os.path.join(args.build, "cargo", "release")
    out = os.path.join(args.out, "bin", name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    cmd = [os.environ.get("CC", "cc"), "-O2", "-std=gnu11", "-Wall",
           "-Wextra", "-I", os.path.join(ROOT, "include"),
           os.path.join(HERE, src), "-o", out, "-L", lib, "-lzcio",
           "-Wl,-rpath," + lib]
    log("compiling " + name + " (not in the CMake build tree)")
    subprocess.run(cmd, check=True)
    return out


def build_go(args):
    go = shutil.which("go")
    if not go:
        log("go not found: the Go peer is skipped")
        return None
    out = os.path.join(args.out, "bin", "gocopy")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    env = dict(os.environ, GOFLAGS="-mod=mod", CGO_ENABLED="0")
    subprocess.run([go, "build", "-o", out, "."], check=True, env=env,
                   cwd=os.path.join(HERE, "gocopy"))
    return out


def run_json(argv, what):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("run.py: %s failed (%d):\n%s" % (what, p.returncode,
                                                  p.stderr[-2000:]))
    return json.loads(p.stdout)


def make_file(path, size):
    block = random.Random(size).randbytes(MIB)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:min(left, MIB)])
            left -= min(left, MIB)
        f.flush()
        os.fsync(f.fileno())


# --- overhead and file to file ----------------------------------------------

def overhead(args, prog, sizes):
    argv = [prog, "--sizes", ",".join(human(s) for s in sizes), "--rounds",
            str(args.rounds), "--min-ms", "3" if args.quick else "40",
            "--dir", args.data_dir]
    log("overhead: " + " ".join(argv[1:]))
    raw = run_json(argv, "overhead")
    base = {(c["group"], c["size"]): c for c in raw["cells"]
            if c["variant"] == c["baseline"]}
    rows = []
    for c in raw["cells"]:
        b = base[(c["group"], c["size"])]
        ratio = [x / y for x, y in zip(c["ns_per_op"], b["ns_per_op"])]
        cpu_ratio = [x / y if y > 0 else None
                     for x, y in zip(c["cpu_ns_per_op"], b["cpu_ns_per_op"])]
        rows.append({
            "group": c["group"], "what": c["what"], "variant": c["variant"],
            "baseline": c["baseline"], "size": c["size"], "ops": c["ops"],
            "mechanism": c["mechanism"],
            "us_per_op": stats([x / 1e3 for x in c["ns_per_op"]]),
            "gb_per_s": stats([c["size"] / x for x in c["ns_per_op"]]),
            "cpu_ms_per_gb": stats([x / c["size"] * 1e3
                                    for x in c["cpu_ns_per_op"]]),
            "nvcsw_per_op": stats(c["nvcsw_per_op"]),
            "nivcsw_per_op": stats(c["nivcsw_per_op"]),
            "time_vs_baseline": stats(ratio),
            "cpu_vs_baseline": stats(cpu_ratio),
            "samples_ns": c["ns_per_op"],
        })
    return rows


def overhead_targets(rows):
    out = []
    for r in rows:
        if r["group"] in ("filecopy",) or r["variant"] == r["baseline"]:
            continue
        if not r["variant"].startswith("zcio"):
            continue
        limit = OVERHEAD_TARGET.get(r["size"], 1.03)
        t = r["time_vs_baseline"]
        out.append({
            "scenario": "overhead %s %s" % (r["variant"], human(r["size"])),
            "target": "time ≤ %.2f× %s" % (limit, r["baseline"]),
            "measured": t["median"], "min": t["min"], "max": t["max"],
            "met": t["median"] <= limit})
    return out


# --- file to TCP -------------------------------------------------------------

def bench_argv(bench, path, transfers, methods=None):
    argv = [bench, "--file", path, "--rounds", str(transfers),
            "--receiver", "discard", "--json"]
    if methods:
        argv += ["--methods", ",".join(methods)]
    help_text = subprocess.run([bench, "--help"], capture_output=True,
                               text=True).stdout
    if "--no-map" in help_text:
        argv.append("--no-map")
    return argv


def file_tcp_round(bench, gocopy, path, size, transfers):
    """One round: every zcio-bench method, then Go, medians per method."""
    d = run_json(bench_argv(bench, path, transfers), "zcio-bench")
    out = {}
    cc = {"zcio-bench": d.get("congestion_control")}
    for m in d["methods"]:
        out[m["method"]] = {
            "wall_ms": statistics.median(m["wall_ms"]),
            "cpu_ms": statistics.median(m["cpu_ms"]),
            "rx_cpu_ms": statistics.median(m["rx_cpu_ms"]),
            "mechanism": m.get("mechanism")}
    if gocopy:
        g = run_json([gocopy, "-file", path, "-rounds", str(transfers)],
                     "gocopy")
        cc["gocopy"] = g.get("congestion_control")
        out["go-io.Copy"] = {
            "wall_ms": statistics.median(g["wall_ms"]),
            "cpu_ms": statistics.median(g["cpu_ms"]),
            "rx_cpu_ms": statistics.median(g["rx_cpu_ms"]),
            "mechanism": "sendfile (Go runtime)"}
    return out, cc


def file_tcp(args, bench, gocopy, sizes):
    rows, ccs = [], {}
    for size in sizes:
        path = os.path.join(args.data_dir, "zcio-bench-data.%d" % size)
        make_file(path, size)
        transfers = TRANSFERS[size] if not args.quick else 3
        rounds = []
        try:
            for r in range(args.rounds):
                res, cc = file_tcp_round(bench, gocopy, path, size,
                                         transfers)
                rounds.append(res)
                ccs.update(cc)
            log("file-tcp %s: %d rounds done" % (human(size), args.rounds))
        finally:
            os.unlink(path)
        gb = size / 1e9
        for m in rounds[0]:
            per = [x[m] for x in rounds]
            base = [x["rw-64k"] for x in rounds]
            go = [x.get("go-io.Copy") for x in rounds]
            rows.append({
                "size": size, "method": m, "transfers_per_round": transfers,
                "mechanism": per[0]["mechanism"],
                "gb_per_s": stats([gb / (p["wall_ms"] / 1e3) for p in per]),
                "cpu_ms_per_gb": stats([p["cpu_ms"] / gb for p in per]),
                "rx_cpu_ms_per_gb": stats([p["rx_cpu_ms"] / gb
                                           for p in per]),
                "gbps_vs_rw64k": stats([b["wall_ms"] / p["wall_ms"]
                                        for p, b in zip(per, base)]),
                "cpu_vs_rw64k": stats([p["cpu_ms"] / b["cpu_ms"]
                                       if b["cpu_ms"] > 0 else None
                                       for p, b in zip(per, base)]),
                "gbps_vs_go": stats([g["wall_ms"] / p["wall_ms"]
                                     for p, g in zip(per, go) if g]),
            })
    return rows, ccs


def rusage_of(argv):
    """CPU seconds and context switches of a process and its children."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit("run.py: %s failed" % argv[0])
    return ru.ru_utime + ru.ru_stime, ru.ru_nvcsw, ru.ru_nivcsw


def switches(args, bench, gocopy, sizes):
    """Per-transfer cost from the difference of two runs of each method.

    A run with A transfers and one with B: (usage(B) - usage(A)) / (B - A)
    cancels start-up, file hashing and the warm-up, leaving what one more
    transfer costs the sender and receiver processes together.
    """
    rows = []
    for size in sizes:
        path = os.path.join(args.data_dir, "zcio-switch-data.%d" % size)
        make_file(path, size)
        extra = max(2, TRANSFERS[size] if not args.quick else 2)
        try:
            for m in BENCH_METHODS + (["go-io.Copy"] if gocopy else []):
                def argv(n):
                    if m == "go-io.Copy":
                        return [gocopy, "-file", path, "-rounds", str(n)]
                    return bench_argv(bench, path, n, [m])
                a = rusage_of(argv(1))
                b = rusage_of(argv(1 + extra))
                cpu, nv, niv = [(y - x) / extra for x, y in zip(a, b)]
                rows.append({"size": size, "method": m,
                             "cpu_copies_by_design": CPU_COPIES[m],
                             "cpu_ms_per_transfer": cpu * 1e3,
                             "cpu_ms_per_mib": cpu * 1e3 / (size / MIB),
                             "nvcsw_per_transfer": nv,
                             "nivcsw_per_transfer": niv,
                             "transfers_differenced": extra})
        finally:
            os.unlink(path)
        log("switches %s done" % human(size))
    return rows


def tcp_targets(rows, sizes):
    by = {(r["size"], r["method"]): r for r in rows}
    big, small = max(sizes), min(sizes)
    out = []

    def add(name, target, s, limit, higher):
        if s is None:
            out.append({"scenario": name, "target": target,
                        "measured": None, "met": None})
            return
        ok = s["median"] >= limit if higher else s["median"] <= limit
        out.append({"scenario": name, "target": target, "measured":
                    s["median"], "min": s["min"], "max": s["max"], "met": ok})

    for m in ("copy", "sendfile", "splice"):
        r = by.get((big, m))
        if not r:
            continue
        add("file→TCP %s %s throughput" % (m, human(big)),
            "≥ 2.80× rw-64k", r["gbps_vs_rw64k"], 2.8, True)
        add("file→TCP %s %s sender CPU/GB" % (m, human(big)),
            "≤ 0.25× rw-64k", r["cpu_vs_rw64k"], 0.25, False)
        add("file→TCP %s %s throughput vs Go" % (m, human(big)),
            "≥ 1.15× go-io.Copy", r["gbps_vs_go"], 1.15, True)
    for m in ("copy", "sendfile", "splice"):
        r = by.get((small, m))
        if r:
            add("file→TCP %s %s throughput" % (m, human(small)),
                "≥ 1.00× rw-64k (never slower)", r["gbps_vs_rw64k"], 1.0,
                True)
    return out


# --- tee -----------------------------------------------------------------

def tee(args, prog, sizes):
    rows, targets = [], []
    for size in sizes:
        d = run_json([prog, "--size", str(size), "--rounds",
                      str(args.rounds), "--dir", args.data_dir], "teebench")
        base = d["methods"][0]
        gb = size / 1e9
        for m in d["methods"]:
            ratio = [b / x for x, b in zip(m["wall_ms"], base["wall_ms"])]
            rows.append({
                "size": size, "method": m["method"],
                "gb_per_s": stats([gb / (x / 1e3) for x in m["wall_ms"]]),
                "dup_cpu_ms_per_gb": stats([x / gb for x in m["cpu_ms"]]),
                "children_cpu_ms_per_gb": stats([x / gb for x in
                                                 m["child_cpu_ms"]]),
                "nvcsw": stats(m["nvcsw"]), "nivcsw": stats(m["nivcsw"]),
                "gbps_vs_rw64k": stats(ratio)})
            if m["method"] == "zcio_tee":
                s = stats(ratio)
                targets.append({
                    "scenario": "tee to 2 consumers %s throughput"
                                % human(size),
                    "target": "≥ 6.00× read + 2 writes", "measured":
                    s["median"], "min": s["min"], "max": s["max"],
                    "met": s["median"] >= 6.0})
        log("tee %s done" % human(size))
    return rows, targets


# --- report --------------------------------------------------------------

def md_overhead(rows, groups, title):
    lines = ["| group | variant | size | µs/op | GB/s | time vs baseline | "
             "CPU vs baseline | vol/invol ctx sw per op | mechanism |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["group"] not in groups:
            continue
        lines.append("| %s | %s | %s | %s | %.2f | %s | %s | %.2f / %.2f "
                     "| %s |" % (
                         r["group"], r["variant"], human(r["size"]),
                         fmt(r["us_per_op"]), r["gb_per_s"]["median"],
                         fmt(r["time_vs_baseline"], 3),
                         fmt(r["cpu_vs_baseline"], 2),
                         r["nvcsw_per_op"]["median"],
                         r["nivcsw_per_op"]["median"],
                         r["mechanism"] or ""))
    return ["### " + title, ""] + lines + [""]


def md_tcp(rows):
    lines = ["| size | method | GB/s | sender CPU ms/GB | receiver CPU ms/GB"
             " | GB/s vs rw-64k | CPU vs rw-64k | GB/s vs Go | mechanism |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s |" % (
            human(r["size"]), r["method"], fmt(r["gb_per_s"]),
            r["cpu_ms_per_gb"]["median"], r["rx_cpu_ms_per_gb"]["median"],
            fmt(r["gbps_vs_rw64k"]), fmt(r["cpu_vs_rw64k"]),
            fmt(r["gbps_vs_go"]), r["mechanism"] or ""))
    return lines + [""]


def md_switches(rows):
    lines = ["| size | method | CPU copies (by design) | CPU ms/transfer | "
             "CPU ms/MiB | voluntary ctx sw | involuntary ctx sw |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %d | %.3f | %.3f | %.1f | %.1f |" % (
            human(r["size"]), r["method"], r["cpu_copies_by_design"],
            r["cpu_ms_per_transfer"], r["cpu_ms_per_mib"],
            r["nvcsw_per_transfer"], r["nivcsw_per_transfer"]))
    return lines + [""]


def md_tee(rows):
    lines = ["| size | method | GB/s | duplicator CPU ms/GB | producer + "
             "consumers CPU ms/GB | duplicator vol/invol ctx sw | GB/s vs "
             "rw-64k |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append("| %s | %s | %s | %.1f | %.1f | %.0f / %.0f | %s |" % (
            human(r["size"]), r["method"], fmt(r["gb_per_s"]),
            r["dup_cpu_ms_per_gb"]["median"],
            r["children_cpu_ms_per_gb"]["median"], r["nvcsw"]["median"],
            r["nivcsw"]["median"], fmt(r["gbps_vs_rw64k"])))
    return lines + [""]


def md_targets(targets):
    lines = ["| scenario | target | measured median [min–max] | verdict |",
             "|---|---|---|---|"]
    for t in targets:
        if t["measured"] is None:
            m, v = "not measured", "NOT MEASURED"
        else:
            m = "%.3f [%.3f–%.3f]" % (t["measured"], t["min"], t["max"])
            v = verdict(t["met"])
        lines.append("| %s | %s | %s | %s |" % (t["scenario"], t["target"],
                                                m, v))
    return lines + [""]


def write_markdown(path, rep):
    env = rep["environment"]
    out = ["# zcio benchmark report", "",
           "%s%s; %d interleaved rounds per scenario; values are median "
           "[min–max] over rounds, ratios computed round by round against "
           "the round's baseline." % (
               "QUICK SMOKE RUN, numbers not meaningful. " if rep["quick"]
               else "", env["date"], rep["rounds"]), "",
           "- kernel %s, CPU %s × %s" % (env["kernel"], env["cpu_model"],
                                         env["cpus"]),
           "- data in %s (%s)" % (env["data_dir"], env["data_fs"]),
           "- TCP congestion control: system default %s; set per socket "
           "by the programs: %s" % (env["default_congestion_control"],
                                    json.dumps(rep["congestion_control"])),
           "- %s, git %s, wall time of the run %.0f s" % (
               env["go"] or "no Go", env["git"], rep["elapsed_s"]),
           "- load average at start: %s; at end: %s (the machine is "
           "shared; wide min–max ranges mean other work ran)" % (
               env["loadavg_at_start"], env.get("loadavg_at_end")), "",
           "## Targets from issue 8", ""]
    out += md_targets(rep["targets"])
    out += ["## File → TCP loopback", "",
            "zcio-bench (discarding receiver: splice to /dev/null) and "
            "gocopy (io.Copy from *os.File to *net.TCPConn, same kind of "
            "receiver). Each round runs one zcio-bench invocation (all its "
            "methods interleaved, rotating start) then one gocopy "
            "invocation; a round's value is the median of its transfers. "
            "Sender CPU includes loopback receive processing the kernel "
            "runs in the sender's context.", ""]
    out += md_tcp(rep["file_tcp"])
    out += ["## Copies and context switches per method (file → TCP)", "",
            "CPU and switches of sender and receiver processes together, "
            "per extra transfer (difference of two runs with different "
            "transfer counts, from wait4 rusage). CPU copies are by "
            "design, not measured.", ""]
    out += md_switches(rep["switches"])
    out += md_overhead(rep["overhead"], ("sendfile", "splice", "tee", "cfr"),
                       "Overhead: zcio calls vs raw system call loops")
    out += md_overhead(rep["overhead"], ("mapread", "filecopy"),
                       "File → file and mapping reads")
    out += ["## tee: one stream to two consumers", ""]
    out += md_tee(rep["tee"])
    out += ["## Not measured in this run", ""]
    out += ["- " + x for x in rep["not_measured"]] + [""]
    with open(path, "w") as f:
        f.write("\n".join(out))


def plot(out_dir):
    script = os.path.join(HERE, "plot.py")
    for py in (sys.executable, "/usr/bin/python3"):
        probe = subprocess.run([py, "-c", "import matplotlib"],
                               capture_output=True)
        if probe.returncode == 0:
            subprocess.run([py, script, os.path.join(out_dir, "report.json"),
                            os.path.join(out_dir, "plot.png")], check=True)
            return True
    log("matplotlib not found: no plot (apt-get install python3-matplotlib)")
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="default: BUILD/benches/results")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--data-dir", default=os.environ.get("TMPDIR", "/tmp"))
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: 3 rounds, small sizes, < 60 s")
    args = ap.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 3)
    elif args.rounds < 7:
        sys.exit("run.py: the report needs at least 7 rounds")
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out or os.path.join(
        args.build, "benches", "results"))
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    sizes = QUICK_SIZES if args.quick else SIZES

    bench = os.path.join(args.build, "demos", "zcio-bench")
    if not os.path.exists(bench):
        sys.exit("run.py: %s not found: build the project first" % bench)
    over = find_or_build(args, "overhead", "overhead.c")
    teeb = find_or_build(args, "teebench", "teebench.c")
    gocopy = build_go(args)

    # Files of concurrent runs must not collide; all go in one private dir.
    data_root = args.data_dir
    args.data_dir = tempfile.mkdtemp(prefix="zcio-benches.", dir=data_root)
    try:
        run_all(args, t0, sizes, bench, over, teeb, gocopy)
    finally:
        shutil.rmtree(args.data_dir, ignore_errors=True)


def run_all(args, t0, sizes, bench, over, teeb, gocopy):
    rep = {"program": "benches/run.py", "quick": args.quick,
           "rounds": args.rounds, "sizes": sizes,
           "environment": environment(args.data_dir)}
    rep["overhead"] = overhead(args, over, sizes)
    rep["file_tcp"], rep["congestion_control"] = file_tcp(
        args, bench, gocopy, sizes)
    rep["switches"] = switches(args, bench, gocopy, sizes)
    # Below a few MiB the three forks per transfer dominate.
    tee_sizes = [max(sizes)]
    rep["tee"], tee_targets = tee(args, teeb, tee_sizes)
    rep["targets"] = (overhead_targets(rep["overhead"]) +
                      tcp_targets(rep["file_tcp"], sizes) + tee_targets + [
        {"scenario": "TCP→TCP proxy throughput", "target":
         "≥ 2.5× rw-64k proxy and ≥ 2× Go", "measured": None, "met": None}])
    rep["not_measured"] = [
        "TCP → TCP proxying (zcio-proxy vs rw-proxy, socat, Go): not run "
        "by this suite yet; demos/proxy/bench-proxy.py measures it alone.",
        "Scaling with 1/8/64/512 concurrent streams (proxy, file server): "
        "not run; demos/httpd/bench-nginx.py covers zcio-httpd vs nginx.",
        "System-call counts per method (strace or perf would be needed).",
    ]
    rep["elapsed_s"] = time.time() - t0
    rep["environment"]["loadavg_at_end"] = read("/proc/loadavg")
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(rep, f, indent=1)
    plotted = plot(args.out)
    rep["elapsed_s"] = time.time() - t0
    write_markdown(os.path.join(args.out, "report.md"), rep)
    log("wrote %s/report.md, report.json%s in %.0f s" % (
        args.out, ", plot.png" if plotted else "", rep["elapsed_s"]))


if __name__ == "__main__":
    main()
