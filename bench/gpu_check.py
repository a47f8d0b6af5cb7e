"""The GPU check: two short campaigns through `autoresearch up` on this machine's GPU, judged PASS or FAIL.

1. the bundled workspace (`autoresearch init`), 2. a stand-in for a clone of karpathy/autoresearch made locally
(bench/gpu_check_standin.py). Each runs the baseline and a few experiments with the search proposer and the
embedded NATS server; the check prints torch, CUDA and the device, each run's val_bpb and peak VRAM, the
verdicts, the duty (the share of the campaign's wall time spent in runs) and PASS/FAIL lines. Exit code 0 when
every check passed, 1 when one failed, 2 when there is no CUDA (unless --allow-cpu, a rehearsal on the CPU).

    scripts/gpu-check [--allow-cpu] [--experiments 2] [--only bundled|standin] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from gpu_check_output import Output, out_folder
from gpu_check_parts import PartPlan, run_bundled, run_standin
from gpu_check_probe import Probe, dropped_library_variables, git_version, no_cuda_advice, nvidia_smi, run_probe
from gpu_check_report import Check

NO_CUDA_EXIT = 2


def parse(argv: list[str]) -> argparse.Namespace:
    """The check's options; budgets default to a GPU's, or to the CPU rehearsal's with --allow-cpu."""
    parser = argparse.ArgumentParser(prog="scripts/gpu-check", description=__doc__.splitlines()[0])
    parser.add_argument("--allow-cpu", action="store_true", help="Without CUDA, rehearse the same flow on the CPU.")
    parser.add_argument("--experiments", type=int, default=2, help="Experiments after the baseline, per campaign.")
    parser.add_argument("--baseline-runs", type=int, default=2)
    parser.add_argument("--max-runs", type=int, default=2)
    parser.add_argument("--bundled-budget", type=int, help="Training seconds per run (20 on a GPU, 1 on the CPU).")
    parser.add_argument("--standin-budget", type=int, help="Training seconds per run (15 on a GPU, 1 on the CPU).")
    parser.add_argument("--deadline", type=float, default=450.0, help="Seconds for everything; campaigns are stopped past it.")
    parser.add_argument("--min-duty", type=float, help="Least share of a campaign's wall time in runs (0.5; 0.2 on the CPU).")
    parser.add_argument("--only", choices=("bundled", "standin"), help="Run one campaign only.")
    parser.add_argument("--no-compile", action="store_true", help="The stand-in trains without torch.compile.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder with both workspaces.")
    return parser.parse_args(argv)


def header(output: Output, probe: Probe, in_runs: Probe, smi: str | None, git: str | None) -> None:
    """What this machine is: python, git, driver, torch and CUDA, here and in a run's environment."""
    output.say(f"python {sys.version.split()[0]} at {sys.executable}")
    output.say(f"git: {git or 'not found'}")
    output.say(f"nvidia-smi: {smi or 'not found'}")
    output.say(f"torch {probe.torch} · built for CUDA {probe.cuda_build} · CUDA available: {probe.available}"
               + (f" · {probe.name} (compute capability {probe.capability})" if probe.available else "")
               + (f" · error: {probe.error}" if probe.error else ""))
    output.say(f"in a run's environment: CUDA available: {in_runs.available}" + (f" ({in_runs.error})" if in_runs.error else ""))


async def check(args: argparse.Namespace, output: Output) -> int:
    """Probe the machine, run the campaigns asked for, print every figure and check; return the exit code."""
    started = time.monotonic()
    probe, in_runs, smi, git = Probe.run(sys.executable, None), run_probe(), nvidia_smi(), git_version()
    header(output, probe, in_runs, smi, git)
    checks: list[Check] = []
    if git is None:
        output.say("FAIL git is not installed: every workspace is a git repository (install git)")
        return 1
    if not probe.available and not args.allow_cpu:
        output.say(f"no CUDA: {no_cuda_advice(probe, smi)}")
        output.say("gpu-check: no GPU to check (exit 2); scripts/gpu-check --allow-cpu rehearses the same flow on the CPU")
        return NO_CUDA_EXIT
    device = "cuda" if probe.available else "cpu"
    pass_env: list[str] = []
    if device == "cuda" and not in_runs.available:
        pass_env = dropped_library_variables()
        checks.append(Check(False, "runs do not see the GPU in the environment the trainer gives them"
                            + (f": it leaves out {', '.join(pass_env)}; passing it on with --pass-env for the rest of this check"
                               if pass_env else "")))
        output.say(checks[-1].line())
    plan = PartPlan.for_device(device, args, pass_env, started)
    root = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    output.say(f"device under test: {device} · workspaces in {root}")
    try:
        for name, part in (("bundled", run_bundled), ("standin", run_standin)):
            if args.only in (None, name):
                checks += await _guarded(name, part(plan, root, output), output)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    failed = [c for c in checks if not c.passed]
    output.say("")
    output.say(f"== summary: {len(checks) - len(failed)} of {len(checks)} checks passed in {time.monotonic() - started:.0f} s ==")
    for item in checks:
        output.say(item.line())
    output.say(f"gpu-check: {'PASS' if not failed else 'FAIL'} on {device}")
    return 0 if not failed else 1


async def _guarded(name: str, part: Awaitable[list[Check]], output: Output) -> list[Check]:
    """A campaign's checks; a campaign that breaks the check itself becomes one failure, and the next one still runs."""
    try:
        return await part
    except Exception as exc:  # the check runs once, unattended: say what broke and go on
        check = Check(False, f"{name}: the check itself failed: {type(exc).__name__}: {str(exc)[:500]}")
        output.say(check.line())
        return [check]


def main(argv: list[str] | None = None) -> int:
    """Run the check, printing to the terminal and, when OUT is set, to $OUT/gpu-check.log."""
    args = parse(sys.argv[1:] if argv is None else argv)
    with Output(out_folder()) as output:
        return asyncio.run(check(args, output))


if __name__ == "__main__":
    sys.exit(main())
