"""Metric provenance end to end: the bundled workspace's own evaluation, and the trainer's settings reaching its runs."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from autoresearch.workspace import init_workspace
from services.trainer.config import TrainerSettings
from services.trainer.main import serve
from services.trainer.provenance import DEFAULT_EVALUATION, NOT_COMPUTED, REASON_METRIC
from services.trainer.runner import run_training, training_environment
from services.trainer.workspace_config import CONFIG_FILE
from shared.bus import Bus
from shared.events import RunFinished
from shared.replay import replay
from tests.conftest import git, make_workspace
from tests.integration.test_provenance_runs import FAKED, PREPARE

IMPORTED = "from prepare import MAX_SEQ_LEN, TIME_BUDGET, VOCAB_SIZE, evaluate_bpb, make_dataloader\n"


async def test_the_bundled_workspace_is_accepted_and_its_printed_shortcut_refused(tmp_path: Path):
    honest = init_workspace(tmp_path / "honest", time_budget=1)
    faked = init_workspace(tmp_path / "faked", time_budget=1)
    train_py = (faked / "train.py").read_text()
    assert IMPORTED in train_py
    # The shortcut: the bundled imports, the evaluation at hand, and the summary printed without training or calling it.
    (faked / "train.py").write_text(train_py[:train_py.index(IMPORTED) + len(IMPORTED)] + FAKED)

    env = training_environment(dict(os.environ), None)
    command = f"{sys.executable} train.py"
    kept, refused = await asyncio.gather(*(
        run_training(command, path, 120, env, path / "run.log", evaluation=DEFAULT_EVALUATION) for path in (honest, faked)
    ))

    assert kept.status == "ok", kept.log_tail
    assert 0 < kept.metrics["val_bpb"] < 9
    assert refused.status == "crash" and refused.metrics["val_bpb"] == 0.000001
    assert refused.metrics[REASON_METRIC] == f"{NOT_COMPUTED}: printed 0.000001, but {DEFAULT_EVALUATION} was never called"


async def baseline_run(bus: Bus, workspace: Path, tag: str) -> RunFinished:
    """Start the trainer on workspace and return its baseline's run.finished."""
    settings = TrainerSettings(workspace=workspace, tag=tag, state_dir=workspace.parent / f"state-{tag}",
                               train_command=f"{sys.executable} train.py", max_experiments=0, instance="test")
    stop = asyncio.Event()
    trainer = asyncio.create_task(serve(bus, stop, settings))
    try:
        for _ in range(1500):
            runs = await replay(bus, [RunFinished], tag)
            if runs or trainer.done():
                break
            await asyncio.sleep(0.02)
        assert runs, trainer
        return runs[0]
    finally:
        stop.set()
        await asyncio.wait_for(trainer, 30)


async def test_the_trainer_refuses_a_printed_baseline_unless_the_workspace_trusts_it(bus: Bus, tmp_path: Path):
    refusing = make_workspace(tmp_path / "refusing", FAKED)
    trusting = make_workspace(tmp_path / "trusting", FAKED)
    for path in (refusing, trusting):
        (path / "prepare.py").write_text(PREPARE)
    (trusting / CONFIG_FILE).write_text("[workspace]\ntrust_printed_metric = true\n")
    for path in (refusing, trusting):
        git(path, "add", ".")
        git(path, "commit", "-qm", "evaluation")

    refused = await baseline_run(bus, refusing, "refusing")
    trusted = await baseline_run(bus, trusting, "trusting")

    assert refused.status == "crash"
    assert str(refused.metrics[REASON_METRIC]).startswith(f"{NOT_COMPUTED}: the run never imported prepare")
    assert trusted.status == "ok" and trusted.metrics["val_bpb"] == 0.000001
