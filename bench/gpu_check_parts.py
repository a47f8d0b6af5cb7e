"""The two campaigns of the GPU check: the bundled workspace, and the stand-in for a Karpathy-style clone."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from gpu_check_campaign import run_campaign, up_supports
from gpu_check_judge import Expectation, judge
from gpu_check_output import Output
from gpu_check_report import Check, describe, figures
from gpu_check_standin import CPU_SIZE, GPU_SIZE, StandinSize, prepare_data, write_standin

REPORT_RESERVE_S = 15.0  # kept back from the deadline for reading the record and printing
SETUP_TIMEOUT_S = 300.0
LINES_SHOWN = 30
# On a GPU: 4 to 6 runs each; the stand-in's first runs also compile its model.
PART_TIMEOUT_S = {"bundled": 200.0, "standin": 240.0}
CPU_PART_TIMEOUT_S = 150.0
CPU_FLAG = "GPU_CHECK_ALLOW_CPU"
# Settings of the person's own environment that would change what `up` does, left out so the check is the same everywhere.
OWN_PREFIXES = ("AUTORESEARCH_", "NATS_")


@dataclass
class PartPlan:
    """How both campaigns run on this device: budgets, verdict settings, the deadline."""

    device: str
    experiments: int
    bundled_budget: int
    standin_budget: int
    min_duty: float
    standin_size: StandinSize
    deadline_at: float
    up_flags: list[str] = field(default_factory=list)

    @classmethod
    def for_device(cls, device: str, args: argparse.Namespace, pass_env: list[str], started: float) -> PartPlan:
        """A GPU's budgets, or the CPU rehearsal's."""
        gpu = device == "cuda"
        flags = ["--baseline-runs", str(args.baseline_runs), "--max-runs", str(args.max_runs)]
        flags += [part for name in pass_env for part in ("--pass-env", name)]
        size = GPU_SIZE if gpu else CPU_SIZE
        return cls(device=device, experiments=args.experiments,
                   bundled_budget=args.bundled_budget or (20 if gpu else 1),
                   standin_budget=args.standin_budget or (15 if gpu else 1),
                   min_duty=args.min_duty if args.min_duty is not None else (0.5 if gpu else 0.2),
                   standin_size=replace(size, compile_model=False) if args.no_compile else size,
                   deadline_at=started + args.deadline, up_flags=flags)

    def timeout(self, label: str) -> float:
        """Seconds a campaign may take: its own limit, within what is left before the deadline."""
        limit = PART_TIMEOUT_S[label] if self.device == "cuda" else CPU_PART_TIMEOUT_S
        return min(limit, self.deadline_at - time.monotonic() - REPORT_RESERVE_S)


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment less the person's own `up` and NATS settings, plus extra."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}, **extra}


async def run_bundled(plan: PartPlan, root: Path, output: Output) -> list[Check]:
    """`autoresearch init` the bundled workspace, then run its campaign."""
    label, workspace = "bundled", root / "bundled"
    output.say(f"\n== {label}: the workspace of `autoresearch init`, {plan.bundled_budget} s of training per run ==")
    try:
        done = subprocess.run([sys.executable, "-m", "autoresearch", "init", str(workspace), "--time-budget",
                               str(plan.bundled_budget)], capture_output=True, text=True, timeout=SETUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [Check(False, f"{label}: autoresearch init did not finish within {SETUP_TIMEOUT_S:.0f} s")]
    if done.returncode != 0:
        return _setup_failed(output, label, "autoresearch init", done)
    return await _campaign(label, workspace, plan, [], clean_environment(), output)


async def run_standin(plan: PartPlan, root: Path, output: Output) -> list[Check]:
    """Make the Karpathy-style stand-in and its data (HOME in the temporary folder), then run its campaign."""
    label, workspace, home = "standin", root / "standin", root / "home"
    output.say(f"\n== {label}: a Karpathy-style clone made here, {plan.standin_budget} s of training per run ==")
    write_standin(workspace, plan.standin_budget, plan.standin_size)
    try:
        done = prepare_data(workspace, sys.executable, home, SETUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return [Check(False, f"{label}: python prepare.py did not finish within {SETUP_TIMEOUT_S:.0f} s")]
    if done.returncode != 0:
        return _setup_failed(output, label, "python prepare.py", done)
    output.say(next((line for line in done.stdout.splitlines() if line.startswith("Data:")), done.stdout.strip()[-200:]))
    env = clean_environment(HOME=str(home))
    # Not uv: the machine may have no network to sync with; compile time is not a hung run.
    extra = ["--train-command", f"{shlex.quote(sys.executable)} train.py", "--run-timeout", str(plan.standin_budget + 180)]
    if plan.device == "cpu":
        env[CPU_FLAG] = "1"
        extra += ["--pass-env", CPU_FLAG]
        if up_supports("--skip-checks"):
            extra.append("--skip-checks")  # they rightly find that this train.py needs CUDA; the rehearsal has none
    return await _campaign(label, workspace, plan, extra, env, output)


async def _campaign(label: str, workspace: Path, plan: PartPlan, extra: list[str], env: dict[str, str],
                    output: Output) -> list[Check]:
    timeout = plan.timeout(label)
    if timeout < 30:
        return [Check(False, f"{label}: not started, only {max(timeout, 0):.0f} s were left before the deadline")]
    show_doctor(workspace, extra, env, output)
    log = workspace.parent / f"{label}-up.log"
    campaign = await run_campaign(workspace, plan.experiments, plan.up_flags + extra, env, log, timeout)
    found = figures(campaign)
    for line in describe(found, campaign.wall_s):
        output.say(line)
    checks = judge(label, campaign, found, Expectation(plan.experiments, plan.device, plan.min_duty, timeout))
    if not all(check.passed for check in checks):
        output.say(f"-- the end of `up`'s output ({log.name}) --")
        for line in campaign.output.splitlines()[-LINES_SHOWN:]:
            output.say(f"   {line}")
    output.keep(log, f"{label}-up.log")
    output.keep(workspace / "results.tsv", f"{label}-results.tsv")
    output.keep(workspace / ".autoresearch" / "logs" / "trainer.log", f"{label}-trainer.log")
    for check in checks:
        output.say(check.line())
    return checks


def show_doctor(workspace: Path, extra: list[str], env: dict[str, str], output: Output) -> None:
    """Print what `autoresearch doctor` finds for this workspace and train command, where the project has it."""
    command = [sys.executable, "-m", "autoresearch", "doctor", "--workspace", str(workspace)]
    if "--train-command" in extra:
        command += ["--train-command", extra[extra.index("--train-command") + 1]]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=SETUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        output.say(f"doctor: no answer within {SETUP_TIMEOUT_S:.0f} s")
        return
    if "No such command" in done.stderr:
        return
    skipped = " (not asked by `up`: --skip-checks)" if "--skip-checks" in extra else ""
    output.say(f"doctor (exit code {done.returncode}){skipped}:")
    for line in (done.stdout + done.stderr).strip().splitlines()[-LINES_SHOWN:]:
        output.say(f"   {line}")


def _setup_failed(output: Output, label: str, what: str, done: subprocess.CompletedProcess) -> list[Check]:
    for line in (done.stdout + done.stderr).strip().splitlines()[-LINES_SHOWN:]:
        output.say(f"   {line}")
    return [Check(False, f"{label}: {what} failed with exit code {done.returncode}")]
