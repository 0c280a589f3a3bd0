#!/usr/bin/env python3
"""Plot throughput and sender CPU per GB against transfer size for each
file → TCP method, from the report.json that benches/run.py wrote.

Usage: plot.py REPORT_JSON OUT_PNG
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    with open(sys.argv[1]) as f:
        rep = json.load(f)
    rows = rep["file_tcp"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    for m in methods:
        pts = sorted((r["size"], r) for r in rows if r["method"] == m)
        x = [p[0] for p in pts]
        style = "--" if m.startswith("rw") or m == "go-io.Copy" else "-"
        for ax, key in ((ax1, "gb_per_s"), (ax2, "cpu_ms_per_gb")):
            y = [p[1][key]["median"] for p in pts]
            lo = [p[1][key]["median"] - p[1][key]["min"] for p in pts]
            hi = [p[1][key]["max"] - p[1][key]["median"] for p in pts]
            ax.errorbar(x, y, yerr=[lo, hi], label=m, marker="o",
                        linestyle=style, capsize=3)
    for ax, title in ((ax1, "throughput (GB/s, median, min–max bars)"),
                      (ax2, "sender CPU per GB (ms)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("transfer size (bytes)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)
    env = rep["environment"]
    fig.suptitle("zcio file → TCP loopback, %d rounds; kernel %s, %s × %s"
                 % (rep["rounds"], env["kernel"], env["cpu_model"],
                    env["cpus"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=100)


if __name__ == "__main__":
    main()
