#!/usr/bin/env python3
"""Runs one libFuzzer harness as a CTest test: replays every regression
input in the harness's corpus directory (each must pass), then fuzzes for a
bounded time starting from them. Any crash, timeout or leak fails the test
and prints how to reproduce it and how to keep it as a regression input.

usage: run_fuzz.py HARNESS CORPUS_DIR WORK_DIR SECONDS [LIBFUZZER_FLAG...]
"""

import base64
import glob
import os
import shutil
import subprocess
import sys

# Per input: a hang longer than this is a failure, not a slow machine.
INPUT_TIMEOUT = 10
FLAGS = ["-timeout=%d" % INPUT_TIMEOUT, "-error_exitcode=99", "-rss_limit_mb=2048",
         "-print_final_stats=1"]


def replay(harness, corpus, extra):
    """Each regression input in its own process, so one failure does not
    hide the next; returns the inputs that failed."""
    failed = []
    inputs = sorted(p for p in glob.glob(os.path.join(corpus, "*"))
                    if os.path.isfile(p))
    for path in inputs:
        run = subprocess.run([harness, *FLAGS, *extra, path],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace",
                             timeout=INPUT_TIMEOUT * 6)
        if run.returncode != 0:
            failed.append(path)
            print("FAIL: regression input %s (exit %d):" %
                  (path, run.returncode))
            print("\n".join(l for l in run.stdout.splitlines()
                            if "zcio" in l or "ERROR" in l or "SUMMARY" in l))
    print("replayed %d regression inputs, %d failed" %
          (len(inputs), len(failed)))
    return failed


def fuzz(harness, corpus, work, seconds, extra):
    """New inputs go to WORK_DIR/corpus; the regression dir is only read."""
    scratch = os.path.join(work, "corpus")
    artifacts = os.path.join(work, "artifacts") + os.sep
    shutil.rmtree(artifacts, ignore_errors=True)
    os.makedirs(scratch, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    # A fixed seed makes the mutations the same from run to run, so a
    # failure in CI can be reproduced from the test's command line.
    cmd = [harness, *FLAGS, "-seed=1", *extra, "-max_total_time=%d" % seconds,
           "-artifact_prefix=" + artifacts, scratch, corpus]
    print("+ " + " ".join(cmd), flush=True)
    run = subprocess.run(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, errors="replace",
                         timeout=seconds + 180)
    lines = run.stdout.splitlines()
    stats = [l for l in lines if l.startswith("stat::")]
    print("\n".join(stats))
    if run.returncode == 0:
        return True
    print("\n".join(lines[-60:]))
    for path in sorted(glob.glob(artifacts + "*")):
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.basename(path)
        print("FAIL: %s (%d bytes, base64 %s)" %
              (path, len(data), base64.b64encode(data).decode()))
        print("  reproduce: %s %s" % (harness, path))
        print("  keep it:   cp %s %s/%s" % (path, corpus, name))
    return False


def main():
    if len(sys.argv) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    harness, corpus, work, seconds = sys.argv[1:5]
    extra = sys.argv[5:]
    if not os.access(harness, os.X_OK):
        print("SKIP: %s was not built" % harness)
        return 77
    if replay(harness, corpus, extra):
        # Fuzzing from a corpus that crashes stops at once on the same
        # input; the known failures must be fixed first.
        print("not fuzzing: fix the failing regression inputs first")
        return 1
    return 0 if fuzz(harness, corpus, work, int(seconds), extra) else 1


if __name__ == "__main__":
    sys.exit(main())
