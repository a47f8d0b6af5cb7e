"""`up --proposers auto`: with a model slower than a run, `up` starts a second proposer and says why."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import nats
import pytest

from tests.conftest import make_workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from chat_standin import ChatStandIn  # noqa: E402

THINK_S = 1.5  # each answer; a run of the toy train.py takes a fraction of that
TRAIN_PY = '''from prepare import evaluate_bpb
LEARNING_RATE = 0.01
print("---")
print(f"val_bpb: {evaluate_bpb(LEARNING_RATE):.6f}")
print("peak_vram_mb: 100.0")
'''


def rescale_learning_rate() -> Callable[[str], dict]:
    """Answers that rescale LEARNING_RATE a little, every call anew."""
    calls, lock = [0], threading.Lock()

    def answer(prompt: str) -> dict:
        current = re.findall(r"^LEARNING_RATE = ([0-9.e-]+)$", prompt[prompt.index("## train.py at"):], re.MULTILINE)[0]
        with lock:
            calls[0] += 1
            n = calls[0]
        new = f"{float(current) * (1 + 0.01 * n * (1 if n % 2 else -1)):.6g}"
        return {"description": f"scale LEARNING_RATE to {new} (call {n})", "rationale": "probe",
                "expected_vram_impact": "none",
                "edits": [{"search": f"LEARNING_RATE = {current}", "replace": f"LEARNING_RATE = {new}"}]}

    return answer


@pytest.fixture
def slow_model() -> Iterator[ChatStandIn]:
    model = ChatStandIn(rescale_learning_rate(), think=THINK_S, model="slow")
    yield model
    model.close()


async def test_up_starts_a_second_proposer_when_proposals_take_longer_than_runs(
    tmp_path: Path, nats_server: str, slow_model: ChatStandIn,
) -> None:
    workspace = make_workspace(tmp_path / "workspace", TRAIN_PY)
    proposers: list[str] = []
    nc = await nats.connect(nats_server)

    async def keep(msg) -> None:
        proposers.append(json.loads(msg.data).get("proposer"))

    await nc.subscribe("proposal.created", cb=keep)
    env = {**os.environ, "NATS_URL": nats_server, "AUTORESEARCH_LLM_BASE_URL": slow_model.url,
           "AUTORESEARCH_LLM_MODEL": "slow"}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "auto",
               "--max-experiments", "5", "--lookahead", "1", "--proposers", "auto", "--http-port", "0",
               "--keep-rule", "greedy", "--baseline-runs", "1", "--skip-checks",
               "--train-command", f"{sys.executable} train.py"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=180)
    await nc.flush()
    await nc.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"proposers are the bottleneck \(a proposal takes [0-9.]+ s, a run [0-9.]+ s, with 1\); "
                     r"starting proposer-2 of at most 2", output), output
    assert "proposer-2" in proposers  # the second one answered tickets
    assert (workspace / ".autoresearch" / "logs" / "proposer-2.log").exists()  # under supervision, with its own log
    assert "starting proposer-3" not in output  # never more than 1 + lookahead
