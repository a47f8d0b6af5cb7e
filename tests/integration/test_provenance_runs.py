"""A run's val_bpb counts only if prepare.py's evaluation returned it: real runs of small prepare.py/train.py pairs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from services.trainer.provenance import DEFAULT_EVALUATION, NOT_COMPUTED, NOT_OBSERVED, REASON_METRIC
from services.trainer.runner import RunOutcome, run_training, training_environment

# Shaped like Karpathy's prepare.py: a decorated evaluate_bpb(model, tokenizer, batch_size) that computes its value.
PREPARE = '''
import functools
MAX_SEQ_LEN = 8

def no_grad(function):
    @functools.wraps(function)
    def inner(*args, **kwargs):
        return function(*args, **kwargs)
    return inner

@no_grad
def evaluate_bpb(model, tokenizer, batch_size):
    """Bits per byte of a 'model' (a list of losses)."""
    return sum(model) / (len(model) * 0.6931471805599453)
'''
SUMMARY = 'print("---")\nprint(f"val_bpb:          {val_bpb:.6f}")\nprint("peak_vram_mb:     10.0")\n'
HONEST = "from prepare import MAX_SEQ_LEN, evaluate_bpb\nval_bpb = evaluate_bpb([1.0, 2.0, 4.0], None, 8)\n" + SUMMARY
FAKED = "val_bpb = 0.000001\n" + SUMMARY
MISREPORTED = "from prepare import evaluate_bpb\nval_bpb = evaluate_bpb([1.0, 2.0, 4.0], None, 8) - 0.5\n" + SUMMARY
TWICE = ("from prepare import evaluate_bpb\nfirst = evaluate_bpb([3.0, 3.0], None, 8)\n"
         "val_bpb = evaluate_bpb([1.0, 2.0], None, 8)\nassert first != val_bpb\n" + SUMMARY)


def workspace(path: Path, train_py: str, prepare_py: str = PREPARE) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "prepare.py").write_text(prepare_py)
    (path / "train.py").write_text(train_py)
    return path


async def train(path: Path, command: str = "", evaluation: str | None = DEFAULT_EVALUATION,
                timeout: float = 60, **extra_env: str) -> RunOutcome:
    env = {**training_environment(dict(os.environ), None), **extra_env}
    return await run_training(command or f"{sys.executable} train.py", path, timeout, env, path / "run.log",
                              evaluation=evaluation)


def refused_with(outcome: RunOutcome, words: str) -> bool:
    reason = outcome.metrics.get(REASON_METRIC)
    return outcome.status == "crash" and isinstance(reason, str) and words in reason and reason in outcome.log_tail


async def test_an_honest_run_keeps_its_val_bpb(tmp_path: Path):
    outcome = await train(workspace(tmp_path, HONEST))
    assert outcome.status == "ok", outcome.log_tail
    assert outcome.metrics["val_bpb"] == round(7.0 / (3 * 0.6931471805599453), 6)
    assert REASON_METRIC not in outcome.metrics


async def test_a_printed_val_bpb_that_no_evaluation_returned_is_a_crash(tmp_path: Path):
    outcome = await train(workspace(tmp_path, FAKED))
    assert refused_with(outcome, NOT_COMPUTED), outcome
    assert outcome.log_tail.splitlines()[-1] == f"autoresearch: {outcome.metrics[REASON_METRIC]}"


async def test_a_printed_value_other_than_the_one_returned_is_a_crash(tmp_path: Path):
    outcome = await train(workspace(tmp_path, MISREPORTED))
    returned = 7.0 / (3 * 0.6931471805599453)
    assert refused_with(outcome, f"{NOT_COMPUTED}: printed {returned - 0.5:.6f}, but {DEFAULT_EVALUATION} returned {returned:.6f}")


async def test_evaluating_twice_and_printing_the_last_is_accepted(tmp_path: Path):
    outcome = await train(workspace(tmp_path, TWICE))
    assert outcome.status == "ok", outcome.log_tail


async def test_a_module_import_under_a_shell_that_stays_is_watched_too(tmp_path: Path):
    train_py = "import prepare\nval_bpb = prepare.evaluate_bpb([2.0], None, 1)\n" + SUMMARY
    honest = await train(workspace(tmp_path / "honest", train_py), f"true && {sys.executable} train.py")
    faked = await train(workspace(tmp_path / "faked", FAKED), f"true && {sys.executable} train.py")
    assert honest.status == "ok", honest.log_tail
    assert refused_with(faked, NOT_COMPUTED)


async def test_a_run_that_never_imports_prepare_is_refused_by_name(tmp_path: Path):
    outcome = await train(workspace(tmp_path, "import math\n" + FAKED))
    assert refused_with(outcome, "the run never imported prepare")


async def test_a_prepare_without_the_evaluation_cannot_be_checked(tmp_path: Path):
    outcome = await train(workspace(tmp_path, "import prepare\n" + FAKED, prepare_py="TIME_BUDGET = 1\n"))
    assert refused_with(outcome, f"{NOT_OBSERVED}: prepare defines no function evaluate_bpb")
    assert "trust_printed_metric" in outcome.metrics[REASON_METRIC]


async def test_an_interpreter_that_ignores_pythonpath_cannot_be_checked(tmp_path: Path):
    outcome = await train(workspace(tmp_path, HONEST), f"{sys.executable} -E train.py")
    assert refused_with(outcome, f"{NOT_OBSERVED}: the evaluation hook did not load")


async def test_trusting_the_printed_metric_accepts_it_unobserved(tmp_path: Path):
    outcome = await train(workspace(tmp_path, FAKED), evaluation=None)
    assert outcome.status == "ok" and outcome.metrics["val_bpb"] == 0.000001


async def test_the_evaluation_is_whatever_the_workspace_names(tmp_path: Path):
    path = workspace(tmp_path, "from scoring import score\nval_bpb = score(0.25)\n" + SUMMARY)
    (path / "scoring.py").write_text("def score(x):\n    return x * 3\n")
    named = await train(path, evaluation="scoring:score")
    default = await train(path)
    assert named.status == "ok", named.log_tail
    assert refused_with(default, "the run never imported prepare")


async def test_a_run_that_evaluates_far_more_than_a_pipe_holds_is_not_blocked(tmp_path: Path):
    train_py = ("from prepare import evaluate_bpb\nfor step in range(20000):\n"
                "    val_bpb = evaluate_bpb([step / 1000 + 1.0], None, 1)\n" + SUMMARY)
    outcome = await train(workspace(tmp_path, train_py), timeout=60)
    assert outcome.status == "ok", outcome.log_tail


async def test_train_py_is_not_handed_the_pipe_nor_its_number(tmp_path: Path):
    snoop = '''import os, subprocess, sys
print("variables:", sorted(k for k in os.environ if k.startswith("AUTORESEARCH_")))
print("pythonpath:", os.environ.get("PYTHONPATH", ""))
child = "import os\\nfor fd in range(3, 64):\\n    try:\\n        os.fstat(fd); print('child fd', fd)\\n    except OSError:\\n        pass"
subprocess.run([sys.executable, "-c", child], check=True)
'''
    outcome = await train(workspace(tmp_path, snoop + HONEST))
    assert outcome.status == "ok", outcome.log_tail
    assert "variables: []" in outcome.log_tail and "pythonpath: \n" in outcome.log_tail + "\n"
    assert "child fd" not in outcome.log_tail


async def test_a_sitecustomize_the_hook_shadows_still_runs(tmp_path: Path):
    own = tmp_path / "own"  # where a distribution or a virtual environment keeps its own
    own.mkdir()
    (own / "sitecustomize.py").write_text("print('own sitecustomize ran')\n")
    outcome = await train(workspace(tmp_path / "ws", HONEST), PYTHONPATH=str(own))
    assert outcome.status == "ok", outcome.log_tail
    assert "own sitecustomize ran" in outcome.log_tail
