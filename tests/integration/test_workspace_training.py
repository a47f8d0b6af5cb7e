import math
import subprocess
import sys
from pathlib import Path

from autoresearch.workspace import init_workspace

SUMMARY_KEYS = [
    "val_bpb",
    "training_seconds",
    "total_seconds",
    "peak_vram_mb",
    "mfu_percent",
    "total_tokens_M",
    "num_steps",
    "num_params_M",
    "depth",
]


def parse_summary(output: str) -> dict[str, float]:
    """The key: value lines after the '---' line."""
    lines = output.splitlines()
    summary = lines[lines.index("---") + 1 :]
    return {key: float(value) for key, _, value in (line.partition(": ") for line in summary if ": " in line)}


def test_bundled_train_py_learns_and_prints_its_summary(tmp_path: Path):
    workspace = init_workspace(tmp_path / "ws", time_budget=3)

    # Bytes, not text: universal newlines would turn the progress lines' \r into \n.
    run = subprocess.run([sys.executable, "train.py"], cwd=workspace, capture_output=True, timeout=120)
    stdout = run.stdout.decode()

    assert run.returncode == 0, stdout[-2000:] + run.stderr.decode()[-2000:]
    assert "---" in stdout.splitlines()
    assert "\rstep 00001" in stdout
    summary = parse_summary(stdout)
    assert set(SUMMARY_KEYS) <= set(summary)
    assert math.isfinite(summary["val_bpb"]) and summary["val_bpb"] < 8.5
    assert summary["num_steps"] >= 2
    assert summary["training_seconds"] >= 3
