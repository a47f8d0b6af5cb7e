"""scripts/gpu-check: its verdict without CUDA, its rehearsal on the CPU through a real `up`, and the rules it judges by."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from gpu_check_campaign import Campaign  # noqa: E402  (the check's own modules)
from gpu_check_judge import Expectation, judge  # noqa: E402
from gpu_check_report import figures  # noqa: E402
from gpu_check_standin import CPU_SIZE, prepare_data, write_standin  # noqa: E402

from shared.events import CampaignFinished, CampaignStarted, RunFinished, VerdictDecided  # noqa: E402

SCRIPT = ROOT / "scripts" / "gpu-check"
HASH = "a" * 40


def gpu_check(*args: str, out: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run the script as a person would, with OUT set."""
    env = {**os.environ, "OUT": str(out)}
    return subprocess.run([str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def cuda_here() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(cuda_here(), reason="this machine has CUDA")
def test_without_cuda_the_check_says_so_and_exits_2(tmp_path: Path) -> None:
    done = gpu_check(out=tmp_path, timeout=120)

    assert done.returncode == 2, done.stdout + done.stderr
    assert "no CUDA:" in done.stdout and "--allow-cpu" in done.stdout
    assert "no CUDA:" in (tmp_path / "gpu-check.log").read_text()


@pytest.mark.skipif(cuda_here(), reason="this machine has CUDA")
def test_cpu_rehearsal_runs_the_karpathy_style_standin_through_up_and_passes(tmp_path: Path) -> None:
    done = gpu_check("--allow-cpu", "--only", "standin", "--experiments", "1", "--baseline-runs", "1",
                     out=tmp_path, timeout=240)
    output = done.stdout

    assert done.returncode == 0, output[-4000:] + done.stderr[-2000:]
    runs = re.findall(r"^  (baseline|experiment) +[0-9a-f]{7} ok .* device cpu  val_bpb (\d+\.\d{6})  peak_vram_mb", output, re.M)
    assert [kind for kind, _ in runs] == ["baseline", "experiment"], output
    assert all(0 < float(val) < 9 for _, val in runs)
    for rule in ("`up` ended by itself with exit code 0", "baseline kept, val_bpb", "1 of 1 experiments decided",
                 "2 of 2 finished run(s) trained on cpu", "every finished run printed the whole summary block", "duty "):
        assert re.search(rf"^PASS standin: .*{re.escape(rule)}", output, re.M), rule
    assert re.search(r"^campaign wall time \d+\.\d s .* duty \d+\.\d%", output, re.M)
    assert output.rstrip().endswith("gpu-check: PASS on cpu")
    assert (tmp_path / "gpu-check.log").read_text().rstrip().endswith("gpu-check: PASS on cpu")
    assert len((tmp_path / "standin-results.tsv").read_text().splitlines()) == 3


def test_the_standin_refuses_the_cpu_unless_the_rehearsal_allows_it(tmp_path: Path) -> None:
    workspace = write_standin(tmp_path / "standin", 1, CPU_SIZE)
    assert prepare_data(workspace, sys.executable, tmp_path / "home", 120).returncode == 0
    assert (tmp_path / "home" / ".cache" / "autoresearch" / "data" / "val.bin").is_file()
    env = {k: v for k, v in os.environ.items() if k != "GPU_CHECK_ALLOW_CPU"}
    done = subprocess.run([sys.executable, "train.py"], cwd=workspace, env={**env, "CUDA_VISIBLE_DEVICES": "", "HOME": str(tmp_path / "home")},
                          capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "val_bpb" not in done.stdout
    assert "cuda" in (done.stdout + done.stderr).lower()


def _run(status: str, device: str, start: datetime, seconds: float, baseline: bool = False, **metrics: object) -> RunFinished:
    tail = f"device: {device} (x) | params: 1\n---\n" + "".join(f"{k}: {v}\n" for k, v in metrics.items())
    return RunFinished(campaign="gpucheck", experiment_id="gpucheck-0000", producer="trainer/1", commit=HASH,
                       status=status, metrics=metrics, log_tail=tail, started_at=start,
                       finished_at=start + timedelta(seconds=seconds), baseline=baseline)


def _campaign(runs: list[RunFinished], verdicts: list[str], code: int | None = 0) -> Campaign:
    start = runs[0].started_at - timedelta(seconds=1)
    events = [CampaignStarted(campaign="gpucheck", experiment_id="gpucheck-0000", producer="trainer/1", branch="b",
                              base_commit=HASH, bundle="k", lookahead=1, occurred_at=start), *runs]
    events += [VerdictDecided(campaign="gpucheck", experiment_id=f"gpucheck-{i:04d}", producer="evaluator/1", commit=HASH,
                              status=status, val_bpb=1.0 if status != "crash" else None, head=HASH, baseline=i == 0)
               for i, status in enumerate(verdicts)]
    events.append(CampaignFinished(campaign="gpucheck", experiment_id="gpucheck-0000", producer="trainer/1",
                                   experiments=len(verdicts) - 1, head=HASH, occurred_at=runs[-1].finished_at))
    return Campaign(code, 60.0, "", events, rows=[["x"]] * len(verdicts))


SUMMARY = {"val_bpb": 1.0, "training_seconds": 20.0, "total_seconds": 25.0, "peak_vram_mb": 900.0, "mfu_percent": 3.0,
           "total_tokens_M": 5.0, "num_steps": 100.0, "num_params_M": 1.0, "depth": 4.0}


def _failed(campaign: Campaign, device: str = "cuda") -> list[str]:
    checks = judge("part", campaign, figures(campaign), Expectation(1, device, 0.5, 240))
    return [check.text for check in checks if not check.passed]


def test_runs_on_the_cpu_fail_a_check_that_expects_cuda() -> None:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    campaign = _campaign([_run("ok", "cuda", t, 25, True, **SUMMARY), _run("ok", "cpu", t + timedelta(seconds=26), 25, **SUMMARY)],
                         ["keep", "discard"])

    assert _failed(campaign, "cuda") == ["part: 1 of 2 finished run(s) trained on cuda; not: aaaaaaa on cpu"]
    assert not [text for text in _failed(campaign, "cpu") if "peak_vram" in text]


def test_a_crashed_baseline_fails_with_its_reason_and_a_stopped_up_fails_too() -> None:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    crashed = _run("crash", "cuda", t, 3, True, crash_reason="ModuleNotFoundError: No module named 'kernels'")
    failed = _failed(_campaign([crashed], ["crash"], code=None))

    assert "part: baseline not kept: ModuleNotFoundError: No module named 'kernels'" in failed
    assert any("still running at its deadline of 240 s" in text for text in failed)


def test_duty_is_the_share_of_the_campaign_spent_in_runs() -> None:
    t = datetime(2030, 1, 1, tzinfo=UTC)
    busy = _campaign([_run("ok", "cuda", t, 25, True, **SUMMARY), _run("ok", "cuda", t + timedelta(seconds=26), 25, **SUMMARY)],
                     ["keep", "keep"])
    idle = _campaign([_run("ok", "cuda", t, 25, True, **SUMMARY), _run("ok", "cuda", t + timedelta(seconds=100), 25, **SUMMARY)],
                     ["keep", "keep"])

    assert figures(busy).duty == pytest.approx(50 / 52)
    assert _failed(busy) == []
    assert _failed(idle) == ["part: duty 39.7% (at least 50% of the campaign's wall time in runs)"]
