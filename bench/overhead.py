"""Benchmark: what `autoresearch up` costs over a plain bash loop of Karpathy's protocol doing the same edits.

Each pair runs the same list of edits (edit i sets constant C<i> of a stand-in train.py that waits
--train-seconds) once through a sequential bash loop (sed, git commit, run, grep, keep or git reset) and once
through `autoresearch up` per --lookahead (its own embedded NATS server, a stand-in model proposing the list's
next edit at once, --keep-rule greedy --baseline-runs 1, so every commit runs once), back to back. Times come
from train.py's own notes (each run's start and end), `up`'s launch and exit as seen here, and `up`'s record
(verdicts, tickets); CPU from wait4 on each side. Then the history figures: a proposer's answer to a ticket and
the ledger's experiments page on a record of N synthesised experiments.

    .venv/bin/python bench/overhead.py [--experiments 20] [--train-seconds 2] [--pairs 3] [--lookahead 0 1]
                                       [--history-sizes 20 500] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

from overhead_history import history_figures
from overhead_report import Figures, campaign_table, history_table
from overhead_runs import Side, run_bash, run_up
from overhead_workspace import StandInModel, edit_list, make_workspace

DOCTOR_TIMING = """import sys, time
began = time.perf_counter()
from autoresearch.commands.doctor import diagnosis
imported = time.perf_counter()
diagnosis(__import__("pathlib").Path(sys.argv[1]), sys.argv[2])
print(imported - began, time.perf_counter() - imported)
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


def doctor_cost(root: Path, train_seconds: float) -> str:
    """What `up`'s checks before it starts cost: importing them, and running them on the benchmark's workspace."""
    workspace = root / "doctor-workspace"
    make_workspace(workspace, root / "doctor.runs.jsonl", train_seconds, 1)
    done = subprocess.run([sys.executable, "-c", DOCTOR_TIMING, str(workspace), f"{sys.executable} train.py"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"not measured: {done.stderr.strip().splitlines()[-1:]}"
    imported, checked = (float(part) for part in done.stdout.split())
    return f"{imported + checked:.2f} s ({imported:.2f} s importing, {checked:.2f} s checking)"


def verdicts_match(side: Side, loop: Side) -> bool:
    """True when `up` decided every listed edit as the bash loop did (status and description, in order)."""
    return [row[3:5] for row in side.rows] == [row[3:5] for row in loop.rows]


def run_pairs(args: argparse.Namespace, root: Path) -> tuple[dict[int, list[Side]], list[Side]]:
    """Every pair's campaigns, the order of the sides turning from pair to pair so drifting load is shared out."""
    model = StandInModel(edit_list(args.experiments))
    ups: dict[int, list[Side]] = {lookahead: [] for lookahead in args.lookahead}
    loops: list[Side] = []
    try:
        for pair in range(args.pairs):
            order = ["bash", *args.lookahead]
            order = order[pair % len(order):] + order[:pair % len(order)]
            for side in order:
                label = f"p{pair}-{'bash' if side == 'bash' else f'la{side}'}"
                if side == "bash":
                    result = run_bash(root, label, args.experiments, args.train_seconds)
                else:
                    result = run_up(root, label, args.experiments, args.train_seconds, side, model)
                if result.returncode != 0 or len(result.runs) != args.experiments + 1:
                    raise SystemExit(f"{label} failed (exit {result.returncode}, {len(result.runs)} runs): "
                                     f"{result.output[-3000:]}")
                (loops if side == "bash" else ups[side]).append(result)
                print(f"  {label}: {result.exited - result.launched:.1f} s · {load()}", flush=True)
    finally:
        model.close()
    return ups, loops


def compare(args: argparse.Namespace) -> None:
    """The campaigns: `up` at each lookahead and the bash loop, pair after pair, and their table."""
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="autoresearch-overhead-") as tmp:
        root = Path(tmp)
        ups, loops = run_pairs(args, root)
        doctor = doctor_cost(root, args.train_seconds)
    print()
    print(campaign_table({la: Figures(sides, loops) for la, sides in ups.items()}, Figures(loops)))
    print()
    same = all(verdicts_match(side, loop) for sides in ups.values() for side, loop in zip(sides, loops))
    print(f"same verdicts as the bash loop in every pair: {'yes' if same else 'no'}")
    print(f"`up`'s checks before it starts (autoresearch doctor): {doctor}")
    print(f"campaigns took {time.monotonic() - began:.0f} s; {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=20, help="experiments after the baseline")
    parser.add_argument("--train-seconds", type=float, default=2.0, help="seconds each training run takes")
    parser.add_argument("--pairs", type=int, default=3, help="repeats of the comparison")
    parser.add_argument("--lookahead", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--history-sizes", type=int, nargs="*", default=[20, 500])
    parser.add_argument("--history-repeats", type=int, default=5)
    parser.add_argument("--history-only", action="store_true", help="only the history figures, no campaigns")
    parser.add_argument("--quick", action="store_true", help="4 experiments of 0.5 s, 1 pair, history at 20 only")
    args = parser.parse_args()
    if args.quick:
        args.experiments, args.train_seconds, args.pairs, args.history_sizes, args.history_repeats = 4, 0.5, 1, [20], 3
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"{args.experiments} experiments of {args.train_seconds:g} s after the baseline, {args.pairs} pair(s), "
          f"lookahead {' '.join(map(str, args.lookahead))}; {load()}", flush=True)
    if not args.history_only:
        compare(args)
    if args.history_sizes:
        print()
        print(history_table(history_figures(args.history_sizes, args.history_repeats)))
        print(f"medians of {args.history_repeats}; {load()}")


if __name__ == "__main__":
    main()
