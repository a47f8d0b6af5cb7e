"""A stand-in for a clone of karpathy/autoresearch, made locally: his file layout, constants, data folders and summary.

prepare.py keeps Karpathy's names (MAX_SEQ_LEN, TIME_BUDGET, EVAL_TOKENS, CACHE_DIR under the home's .cache,
DATA_DIR, TOKENIZER_DIR, VAL_FILENAME, Tokenizer, make_dataloader, evaluate_bpb) but makes its data from the
Python standard library's sources with a byte-level tokenizer, so nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from gpu_check_standin_train import train_py

PREPARE_PY = '''"""
One-time data preparation, in the layout of karpathy/autoresearch, made locally:
text from the Python standard library's sources, a byte-level tokenizer. Nothing is downloaded.

Usage:
    python prepare.py

Data and tokenizer are stored in ~/.cache/autoresearch/.
"""

import math
import os
import pickle
import sysconfig

import torch

# Constants (fixed, do not modify)
MAX_SEQ_LEN = 256        # context length
TIME_BUDGET = {time_budget}        # training time budget in seconds
EVAL_TOKENS = {eval_tokens}    # number of tokens for val eval

# Configuration
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "autoresearch")
DATA_DIR = os.path.join(CACHE_DIR, "data")
TOKENIZER_DIR = os.path.join(CACHE_DIR, "tokenizer")
TRAIN_FILENAME = "train.bin"
VAL_FILENAME = "val.bin"
VOCAB_SIZE = 256
DATA_BYTES = 8 * 1024 * 1024


def stdlib_text():
    root = sysconfig.get_paths()["stdlib"]
    chunks, size = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "dist-packages", "__pycache__"))
        for name in sorted(f for f in filenames if f.endswith(".py")):
            with open(os.path.join(dirpath, name), "rb") as f:
                chunks.append(f.read())
            size += len(chunks[-1])
            if size >= DATA_BYTES:
                return b"\\n".join(chunks)
    return b"\\n".join(chunks)


class Tokenizer:
    """Bytes are tokens."""

    def __init__(self, vocab_size):
        self.vocab_size = vocab_size

    @classmethod
    def from_directory(cls, tokenizer_dir=TOKENIZER_DIR):
        with open(os.path.join(tokenizer_dir, "tokenizer.pkl"), "rb") as f:
            return cls(pickle.load(f)["vocab_size"])

    def get_vocab_size(self):
        return self.vocab_size


def get_token_bytes(device="cpu"):
    with open(os.path.join(TOKENIZER_DIR, "token_bytes.pt"), "rb") as f:
        return torch.load(f, map_location=device)


def load_split(split):
    with open(os.path.join(DATA_DIR, TRAIN_FILENAME if split == "train" else VAL_FILENAME), "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)


def make_dataloader(tokenizer, B, T, split, device="cuda"):
    """Endless (inputs, targets, epoch) batches of random windows, copied to the GPU from pinned memory."""
    data = load_split(split)
    generator = torch.Generator().manual_seed(0 if split == "train" else 1)
    offsets = torch.arange(T + 1)
    on_cuda = torch.device(device).type == "cuda"
    cpu_buffer = torch.empty((B, T + 1), dtype=torch.long, pin_memory=on_cuda)
    gpu_buffer = torch.empty((B, T + 1), dtype=torch.long, device=device)
    while True:
        starts = torch.randint(len(data) - T - 1, (B, 1), generator=generator)
        cpu_buffer.copy_(data[starts + offsets])
        gpu_buffer.copy_(cpu_buffer, non_blocking=on_cuda)
        yield gpu_buffer[:, :-1], gpu_buffer[:, 1:], 1


# Evaluation (DO NOT CHANGE: this is the fixed metric)

@torch.no_grad()
def evaluate_bpb(model, tokenizer, batch_size):
    """Bits per byte over fixed, evenly spaced validation windows."""
    device = next(model.parameters()).device
    token_bytes = get_token_bytes(device=device)
    data = load_split("val")
    count = max(1, EVAL_TOKENS // MAX_SEQ_LEN)
    starts = torch.linspace(0, len(data) - MAX_SEQ_LEN - 1, count).long().unsqueeze(1)
    windows = data[starts + torch.arange(MAX_SEQ_LEN + 1)].long()
    total_nats, total_bytes = 0.0, 0
    for i in range(0, count, batch_size):
        batch = windows[i:i + batch_size].to(device)
        x, y = batch[:, :-1], batch[:, 1:]
        loss_flat = model(x, y, reduction="none").view(-1)
        nbytes = token_bytes[y.reshape(-1)]
        total_nats += (loss_flat * (nbytes > 0)).sum().item()
        total_bytes += nbytes.sum().item()
    return total_nats / (math.log(2) * total_bytes)


if __name__ == "__main__":
    print(f"Cache directory: {{CACHE_DIR}}")
    text = stdlib_text()
    cut = len(text) * 95 // 100
    os.makedirs(DATA_DIR, exist_ok=True)
    os.makedirs(TOKENIZER_DIR, exist_ok=True)
    with open(os.path.join(DATA_DIR, TRAIN_FILENAME), "wb") as f:
        f.write(text[:cut])
    with open(os.path.join(DATA_DIR, VAL_FILENAME), "wb") as f:
        f.write(text[cut:])
    with open(os.path.join(TOKENIZER_DIR, "tokenizer.pkl"), "wb") as f:
        pickle.dump({{"vocab_size": VOCAB_SIZE}}, f)
    torch.save(torch.ones(VOCAB_SIZE, dtype=torch.int32), os.path.join(TOKENIZER_DIR, "token_bytes.pt"))
    print(f"Data: {{cut:,}} train and {{len(text) - cut:,}} val bytes in {{DATA_DIR}}")
    print("Done! Ready to train.")
'''

PYPROJECT = """[project]
name = "autoresearch"
version = "0.1.0"
description = "Stand-in for an autonomous pretraining research repository"
requires-python = ">=3.10"
dependencies = ["torch"]
"""

PROGRAM_MD = """# autoresearch

Each experiment edits only `train.py` and trains for the fixed time budget (`uv run train.py > run.log 2>&1`).
Lower `val_bpb` is better. Do not modify `prepare.py`.
"""

GITIGNORE = "__pycache__/\n*.py[oc]\n.venv\nresults.tsv\nrun.log\n.autoresearch/\n"


@dataclass(frozen=True)
class StandinSize:
    """How big the stand-in's model and evaluation are: one size for a GPU, a smaller one for the CPU rehearsal."""

    depth: int
    aspect_ratio: int
    head_dim: int
    batch_size: int
    eval_tokens: int
    compile_model: bool


GPU_SIZE = StandinSize(depth=4, aspect_ratio=64, head_dim=64, batch_size=64, eval_tokens=64 * 64 * 256, compile_model=True)
CPU_SIZE = StandinSize(depth=1, aspect_ratio=64, head_dim=32, batch_size=4, eval_tokens=8 * 256, compile_model=False)


def git(path: Path, *args: str) -> None:
    """Run git in path with a fixed identity; a failure raises with git's own words."""
    subprocess.run(["git", "-c", "user.name=gpu-check", "-c", "user.email=gpu-check@localhost", *args],
                   cwd=path, check=True, capture_output=True, text=True)


def write_standin(path: Path, time_budget: int, size: StandinSize) -> Path:
    """Make the stand-in repository at path: its files and one commit, like a fresh clone."""
    path.mkdir(parents=True)
    (path / "prepare.py").write_text(PREPARE_PY.format(time_budget=time_budget, eval_tokens=size.eval_tokens))
    (path / "train.py").write_text(train_py(depth=size.depth, aspect_ratio=size.aspect_ratio, head_dim=size.head_dim,
                                            batch_size=size.batch_size, compile_model=size.compile_model))
    (path / "pyproject.toml").write_text(PYPROJECT)
    (path / "program.md").write_text(PROGRAM_MD)
    (path / ".gitignore").write_text(GITIGNORE)
    git(path, "init", "-q", "-b", "master")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "stand-in of a Karpathy-style workspace")
    return path


def prepare_data(path: Path, python: str, home: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run the stand-in's `python prepare.py` with HOME at home, as a user runs it once after cloning."""
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([python, "prepare.py"], cwd=path, env=env, capture_output=True, text=True, timeout=timeout)
