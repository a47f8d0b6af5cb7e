"""Benchmark: what a run that prints a flood costs the trainer: run.log's size, the trainer's peak memory, the time.

Each round starts a fresh process that plays the trainer: it calls run_training on a train command that
writes --mb megabytes to stdout in 1 MiB blocks, then a summary. The process reports its peak resident
memory (VmHWM) before and after the run; the round prints those, run.log's size, and whether the summary
was still read.

    .venv/bin/python bench/run_output.py [--mb 200 300] [--cap-mb 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOD = """\
import os, sys
block = b"x" * (1024 * 1024 - 1) + b"\\n"
for _ in range(int(sys.argv[1])):
    os.write(1, block)
print("---")
print("val_bpb: 0.990000")
"""
TRAINER = """\
import asyncio, json, sys
from pathlib import Path
from services.trainer.containment import detect
from services.trainer.runner import run_training

def peak_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

before = peak_kb()
outcome = asyncio.run(run_training(f"{sys.executable} flood.py {sys.argv[1]}", Path.cwd(), 600, {"PATH": "/usr/bin:/bin"},
                                   Path("run.log"), log_cap=int(sys.argv[2]), isolation=detect()))
print(json.dumps({"before_kb": before, "after_kb": peak_kb(), "status": outcome.status,
                  "val_bpb": outcome.metrics.get("val_bpb"), "isolation": outcome.isolation}))
"""


def one_round(folder: Path, megabytes: int, cap: int) -> dict:
    """Run the flood once in a fresh trainer process; its figures."""
    (folder / "flood.py").write_text(FLOOD)
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-c", TRAINER, str(megabytes), str(cap)], cwd=folder, capture_output=True,
                          text=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {**figures, "seconds": time.monotonic() - began, "log_bytes": (folder / "run.log").stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[0, 200, 300], help="megabytes each run prints")
    parser.add_argument("--cap-mb", type=int, default=64, help="run.log's cap in MiB")
    args = parser.parse_args()
    cap = args.cap_mb * 1024 * 1024
    print(f"{'printed':>9} {'run.log':>9} {'peak RSS before':>16} {'peak RSS after':>15} {'time':>7}  summary read")
    for megabytes in args.mb:
        with tempfile.TemporaryDirectory(prefix="autoresearch-output-") as tmp:
            f = one_round(Path(tmp), megabytes, cap)
        print(f"{megabytes:>6} MB {f['log_bytes'] / 2**20:>6.1f} MB {f['before_kb'] / 1024:>13.1f} MB "
              f"{f['after_kb'] / 1024:>12.1f} MB {f['seconds']:>6.2f}s  {f['status']} val_bpb={f['val_bpb']} "
              f"({f['isolation']})")


if __name__ == "__main__":
    main()
