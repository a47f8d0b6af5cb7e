"""The noise benchmark's workspace: train.py's constants score on a known landscape, measured with Gaussian noise.

train.py holds five constants the search proposer moves. The read-only
prepare.py holds the landscape: 0.90 plus a smooth bowl around known optimal
values (a quadratic in log2 of the learning rate, batch size and weight decay,
in the depth and warm-up steps themselves), so the best reachable value is
exactly 0.90, at OPTIMUM. Its evaluate_bpb returns one noisy draw of the true
value; the noise's σ is a constant the benchmark writes into prepare.py, and
each draw comes from fresh operating-system entropy, so two runs of the same
commit differ. Each run prints the draw as val_bpb and the truth as true_val_bpb.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

START = {"LEARNING_RATE": 0.01, "BATCH_SIZE": 64, "DEPTH": 8, "WARMUP_STEPS": 10, "WEIGHT_DECAY": 0.2}

PREPARE_PY = '''"""Fixed for the campaign: the val_bpb landscape over train.py's constants, and the noise of one measurement."""
import math
import os
import random

NOISE_SIGMA = @SIGMA@
BEST_BPB = 0.90
OPTIMUM = {"LEARNING_RATE": 0.04, "BATCH_SIZE": 16, "DEPTH": 6, "WARMUP_STEPS": 13, "WEIGHT_DECAY": 0.1}
# from the start, the first good move of each constant gains from 0.002 (warm-up) to 0.12 (learning rate)
WEIGHT = {"LEARNING_RATE": 0.04, "BATCH_SIZE": 0.02, "DEPTH": 0.005, "WARMUP_STEPS": 0.0004, "WEIGHT_DECAY": 0.03}
LOG_SCALED = ("LEARNING_RATE", "BATCH_SIZE", "WEIGHT_DECAY")


def true_bpb(values):
    """The landscape: BEST_BPB at OPTIMUM, a smooth bowl around it (in doublings for the log-scaled constants)."""
    def distance(name):
        value = values[name]
        if value <= 0:
            raise ValueError(f"{name} must stay positive, not {value}")
        return math.log2(value / OPTIMUM[name]) if name in LOG_SCALED else value - OPTIMUM[name]
    return BEST_BPB + sum(WEIGHT[name] * distance(name) ** 2 for name in OPTIMUM)


def evaluate_bpb(values):
    """One measurement: the true value plus Gaussian noise of NOISE_SIGMA, to the 6 decimals a run prints."""
    noise = random.Random(os.urandom(16)).gauss(0.0, NOISE_SIGMA) if NOISE_SIGMA > 0 else 0.0
    return round(true_bpb(values) + noise, 6)
'''

TRAIN_PY = '''"""A stand-in training run: the constants below, scored by prepare.py's evaluation."""
from prepare import evaluate_bpb, true_bpb

@CONSTANTS@

values = {"LEARNING_RATE": LEARNING_RATE, "BATCH_SIZE": BATCH_SIZE, "DEPTH": DEPTH, "WARMUP_STEPS": WARMUP_STEPS,
          "WEIGHT_DECAY": WEIGHT_DECAY}
val_bpb = evaluate_bpb(values)
print("---")
print(f"val_bpb:          {val_bpb:.6f}")
print(f"true_val_bpb:     {true_bpb(values):.6f}")
print("peak_vram_mb:     100.0")
'''


def landscape() -> dict:
    """prepare.py's names (true_bpb, OPTIMUM, BEST_BPB, ...), from the very text the workspace holds."""
    names: dict = {}
    exec(PREPARE_PY.replace("@SIGMA@", "0.0"), names)  # the benchmark's own constant text, not a run's output
    return names


def train_py() -> str:
    """The synthetic train.py at its starting values."""
    return TRAIN_PY.replace("@CONSTANTS@", "\n".join(f"{name} = {value!r}" for name, value in START.items()))


def make_noise_workspace(path: Path, sigma: float) -> None:
    """A git workspace of one commit: prepare.py with this σ, and train.py at its starting values."""
    path.mkdir(parents=True)
    (path / "prepare.py").write_text(PREPARE_PY.replace("@SIGMA@", repr(float(sigma))))
    (path / "train.py").write_text(train_py())
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "noise bench"]):
        subprocess.run(["git", *args], cwd=path, check=True)
