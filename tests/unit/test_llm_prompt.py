"""The prompt of the LLM proposer: what it shows after crashes, on plateaus, and when history is long."""

from __future__ import annotations

from datetime import UTC, datetime

from services.proposer.records import ExperimentRecord, fold_records
from services.proposer.llm.prompt import PromptOptions, build_prompt
from services.proposer.researcher import ResearchContext
from shared.events import Edit, ProposalCreated, RunFinished, RunProgress, VerdictDecided

BASE = "a" * 40
TRAIN_PY = "DEPTH = 4\nLEARNING_RATE = 0.001\nprint('training')\n"
PREPARE_PY = '"""Fixed."""\nimport os\nTIME_BUDGET = 300  # seconds of training\nMAX_SEQ_LEN = 2048\n\ndef helper():\n    X = 1\n'


def record(number: int, status: str, **fields) -> ExperimentRecord:
    """A past experiment of campaign c1."""
    fields.setdefault("description", f"experiment number {number}")
    fields.setdefault("run_status", None if status in ("rejected", "pending") else "ok")
    return ExperimentRecord(f"c1-{number:04d}", status=status, **fields)


def baseline(val_bpb: float = 1.0) -> ExperimentRecord:
    return ExperimentRecord("c1-0000", description="baseline", status="keep", val_bpb=val_bpb, baseline=True, run_status="ok")


def prompt(history: list[ExperimentRecord], **options) -> str:
    context = ResearchContext("c1", "c1-0999", BASE, TRAIN_PY, history, program_md="Be bold.", prepare_py=PREPARE_PY)
    return build_prompt(context, PromptOptions(**options))


def test_prompt_holds_train_py_program_and_prepare_constants_only():
    text = prompt([baseline()])
    assert TRAIN_PY in text
    assert "Be bold." in text
    assert "TIME_BUDGET = 300  # seconds of training" in text and "MAX_SEQ_LEN = 2048" in text
    assert "X = 1" not in text and "import os" not in text


def test_table_lists_discarded_crashed_and_rejected_experiments_with_reasons():
    history = [
        baseline(),
        record(1, "discard", description="swap to GeLU", val_bpb=1.01, memory_gb=44.2),
        record(2, "crash", description="double width", run_status="timeout"),
        record(3, "rejected", description="bad search", reason="edit 1: search text does not occur"),
    ]
    text = prompt(history)
    assert "| c1-0001 | discard | 1.010000 | 44.2 | swap to GeLU |" in text
    assert "| c1-0002 | crash |" in text and "timeout" in text
    assert "rejected by the editor: edit 1: search text does not occur" in text


def test_crash_log_and_crashed_change_follow_a_crash():
    tail = "\n".join(f"log line {i}" for i in range(70))
    crashed = record(1, "crash", description="double width", log_tail=tail, edits=[Edit(search="DEPTH = 4", replace="DEPTH = 8")])
    text = prompt([baseline(), crashed])
    assert "Crash to diagnose" in text
    assert "log line 69" in text and "log line 20" in text
    assert "log line 19\n" not in text  # only the last 50 lines
    assert "DEPTH = 8" in text
    assert '"kind": "repair"' in text


def test_no_crash_section_once_a_later_run_finished():
    history = [baseline(), record(1, "crash", log_tail="Traceback: boom"), record(2, "discard", val_bpb=1.02)]
    text = prompt(history)
    assert "Crash to diagnose" not in text
    assert "Traceback: boom" not in text


def test_plateau_note_after_the_configured_number_of_discards():
    four = [baseline(), *(record(i, "discard", val_bpb=1.01) for i in range(1, 5))]
    assert "plateau" not in prompt(four, plateau_after=5)
    five = [*four, record(5, "crash")]
    assert "You are on a plateau: the last 5 experiments" in prompt(five, plateau_after=5)
    assert "plateau" in prompt(four, plateau_after=3)


def test_a_kept_experiment_ends_the_plateau():
    history = [baseline(), *(record(i, "discard", val_bpb=1.01) for i in range(1, 7)), record(7, "keep", val_bpb=0.9)]
    assert "plateau" not in prompt(history, plateau_after=5)


def test_best_so_far_gap_and_commit_log():
    history = [baseline(1.0), record(1, "keep", description="raise LR", val_bpb=0.98), record(2, "discard", val_bpb=0.995)]
    text = prompt(history)
    assert "Best val_bpb so far: 0.980000 (raise LR)" in text
    assert "+0.015000 from the best" in text
    assert "- c1-0001: raise LR: val_bpb 0.980000 (-0.020000)" in text


def test_baseline_leads_the_table_and_log_even_when_proposals_came_first():
    text = prompt([record(1, "keep", description="raise LR", val_bpb=0.98), baseline(1.0)])
    assert text.index("| c1-0000 |") < text.index("| c1-0001 |")
    assert "- c1-0000: baseline: val_bpb 1.000000\n- c1-0001: raise LR: val_bpb 0.980000 (-0.020000)" in text


def test_long_history_is_summarized_within_the_budget():
    history = [baseline(), *(record(i, "discard", description=f"idea {i} " + "x" * 60, val_bpb=1.01) for i in range(1, 400))]
    full = prompt(history, context_tokens=1_000_000)
    small = prompt(history, context_tokens=4000)
    assert "| c1-0001 |" in full and "summarized" not in full
    assert len(small) <= 4000 * 4
    assert "399 earlier experiments" not in small and "earlier experiments, summarized to fit" in small
    assert "| c1-0399 |" in small  # the most recent rows stay verbatim
    assert "| c1-0001 |" not in small
    assert TRAIN_PY in small


def test_loss_curve_of_the_previous_run_comes_from_progress_events():
    now = datetime.now(UTC)
    ids = dict(campaign="c1", experiment_id="c1-0001", producer="test")
    events = [
        ProposalCreated(**ids, base_commit=BASE, description="raise LR", edits=[Edit(search="a", replace="b")]),
        *(RunProgress(**ids, commit="b" * 40, step=step, loss=5.0 - step / 100) for step in range(0, 300, 10)),
        RunFinished(**ids, commit="b" * 40, status="ok", metrics={"val_bpb": 0.99, "num_steps": 290},
                    started_at=now, finished_at=now),
        VerdictDecided(**ids, commit="b" * 40, status="discard", val_bpb=0.99, head=BASE),
    ]
    text = prompt([baseline(0.98), *fold_records(events)])
    assert "Training loss: step 0: 5.0000" in text and "step 290: 2.1000" in text
    assert "num_steps: 290" in text
