"""Bounded events: hostile sizes and dates are refused at validation, the largest legitimate event still travels."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.editor.repo import EditorRepo
from services.trainer.runner import LOG_TAIL_LINES, tail
from shared.edits import EDIT_TEXT_MAX, EDITS_MAX
from shared.events import (
    COMMAND_MAX, DESCRIPTION_MAX, DIFF_MAX, ENVIRONMENT_MAX, EVENT_CLASSES, EVENT_ID_MAX, LOG_TAIL_MAX, MAX_PAYLOAD,
    MESSAGE_MAX, METRIC_NAME_MAX, METRIC_TEXT_MAX, METRICS_MAX, NAME_MAX, NOTE_MAX, REF_MAX, TEXT_MAX,
    CampaignFinished, CampaignStarted, CommitMade, CommitStale, Edit, Event, ProposalCreated, ProposalRejected,
    ProposalRequested, RunFinished, RunProgress, RunStarted, VerdictDecided, parse_event,
)
from tests.conftest import git, make_workspace

SHA = "a" * 40
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
IDS = dict(campaign="nov27", experiment_id="nov27-0001", producer="test/1")


def published(event: Event) -> bytes:
    """The bytes Bus.publish sends for an event."""
    return type(event).model_validate(event.model_dump()).model_dump_json().encode()


def proposal(**overrides: object) -> ProposalCreated:
    fields = dict(**IDS, base_commit=SHA, description="raise the learning rate", edits=[Edit(search="LR = 1", replace="LR = 2")])
    return ProposalCreated(**{**fields, **overrides})


def run_finished(**overrides: object) -> RunFinished:
    fields = dict(**IDS, commit=SHA, status="ok", metrics={"val_bpb": 0.99}, started_at=NOW, finished_at=NOW)
    return RunFinished(**{**fields, **overrides})


def commit_made(**overrides: object) -> CommitMade:
    fields = dict(**IDS, commit=SHA, parent=SHA, message="experiment: x", description="x", diff="", lines_added=0,
                  lines_removed=0, bundle=f"commits/{SHA}.bundle")
    return CommitMade(**{**fields, **overrides})


HOSTILE: dict[str, Callable[[], Event]] = {
    "a 1 MB experiment id": lambda: proposal(experiment_id="x" * 1_000_000),
    "a 1 MB event id": lambda: proposal(event_id="x" * 1_000_000),
    "a 1 MB producer": lambda: proposal(producer="x" * 1_000_000),
    "an event id that breaks its header line": lambda: proposal(event_id="id\r\nNats-Expected-Stream: other"),
    "a commit date of 1970": lambda: proposal(occurred_at=datetime(1970, 1, 1, tzinfo=UTC)),
    "a commit date of 2999": lambda: proposal(occurred_at=datetime(2999, 1, 1, tzinfo=UTC)),
    "a run that started in 1970": lambda: run_finished(started_at=datetime(1970, 1, 1)),
    "a description with a NUL": lambda: proposal(description="raise\x00 the rate"),
    "a description with a terminal escape": lambda: proposal(description="raise \x1b[2J the rate"),
    "a rationale of a megabyte": lambda: proposal(rationale="why " * 250_000),
    "too many edits": lambda: proposal(edits=[Edit(search=f"X{i}", replace="y") for i in range(EDITS_MAX + 1)]),
    "one edit over the text limit": lambda: proposal(edits=[Edit(search="LR", replace="x" * (EDIT_TEXT_MAX + 1))]),
    "edits over the text limit together": lambda: proposal(edits=[
        Edit(search=f"X{i}", replace="x" * (EDIT_TEXT_MAX // 3)) for i in range(4)]),
    "a rejection reason of a megabyte": lambda: ProposalRejected(**IDS, reason="no " * 400_000),
    "a diff over the limit": lambda: commit_made(diff="+" * (DIFF_MAX + 1)),
    "a commit message over the limit": lambda: commit_made(message="m" * (MESSAGE_MAX + 1)),
    "a log tail over the limit": lambda: run_finished(log_tail="l" * (LOG_TAIL_MAX + 1)),
    "too many metrics": lambda: run_finished(metrics={f"m{i}": 1.0 for i in range(METRICS_MAX + 1)}),
    "a verdict with an infinite val_bpb": lambda: VerdictDecided(**IDS, commit=SHA, status="keep", head=SHA,
                                                                val_bpb=float("inf")),
}


@pytest.mark.parametrize("build", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_event_is_refused_at_validation(build: Callable[[], Event]):
    with pytest.raises(ValidationError):
        build()


def test_hostile_event_arriving_as_json_is_refused_when_parsed():
    hostile = {**proposal().model_dump(mode="json"), "experiment_id": "x" * 1_000_000}
    with pytest.raises(ValidationError, match="experiment_id"):
        parse_event(json.dumps(hostile), ProposalCreated.subject)


def text(size: int) -> str:
    """size characters, every one of which JSON escapes to two bytes: more than code or logs ever cost."""
    return ('"\\\n' * (size // 3 + 1))[:size]


def line(size: int) -> str:
    """size one-line characters that JSON escapes to two bytes."""
    return ('"\\' * (size // 2 + 1))[:size]


def name(size: int) -> str:
    return "n" * size


LARGEST_IDS = dict(event_id=name(EVENT_ID_MAX), campaign="c" * 64, experiment_id="c" * 64 + "-999999999", producer=name(NAME_MAX))
SPLIT = EDIT_TEXT_MAX // (2 * EDITS_MAX)


LARGEST: dict[type[Event], Callable[[], Event]] = {
    CampaignStarted: lambda: CampaignStarted(**LARGEST_IDS, branch=text(REF_MAX), base_commit=SHA, bundle=text(REF_MAX),
                                             lookahead=10**9),
    ProposalRequested: lambda: ProposalRequested(**LARGEST_IDS, base_commit=SHA, sequence=10**9),
    ProposalCreated: lambda: ProposalCreated(
        **LARGEST_IDS, base_commit=SHA, description=line(DESCRIPTION_MAX), rationale=text(TEXT_MAX),
        expected_vram_impact=text(NOTE_MAX), edits=[Edit(search=text(SPLIT), replace=text(SPLIT)) for _ in range(EDITS_MAX)],
        proposer_kind=text(NAME_MAX), proposer=text(NAME_MAX), model=text(NAME_MAX), input_tokens=10**9,
        output_tokens=10**9, latency_s=1e9, cost=1e9,
    ),
    ProposalRejected: lambda: ProposalRejected(**LARGEST_IDS, description=text(DESCRIPTION_MAX), reason=text(TEXT_MAX),
                                               base_commit=SHA),
    CommitMade: lambda: CommitMade(
        **LARGEST_IDS, commit=SHA, parent=SHA, message=text(MESSAGE_MAX), description=text(DESCRIPTION_MAX),
        diff=text(DIFF_MAX), lines_added=10**9, lines_removed=10**9, bundle=text(REF_MAX), rebased_from=SHA,
    ),
    CommitStale: lambda: CommitStale(**LARGEST_IDS, commit=SHA, head=SHA),
    RunStarted: lambda: RunStarted(**LARGEST_IDS, commit=SHA, description=text(DESCRIPTION_MAX), command=text(COMMAND_MAX)),
    RunProgress: lambda: RunProgress(**LARGEST_IDS, commit=SHA, step=10**9, percent=100.0, loss=1e300),
    RunFinished: lambda: RunFinished(
        **LARGEST_IDS, commit=SHA, parent=SHA, description=text(DESCRIPTION_MAX), status="crash",
        metrics={f"{i:0{METRIC_NAME_MAX}d}": text(METRIC_TEXT_MAX) for i in range(METRICS_MAX)}, log_tail=text(LOG_TAIL_MAX),
        exit_code=-(10**9), started_at=NOW, finished_at=NOW, baseline=False,
        environment={f"{i:0{METRIC_NAME_MAX}d}": text(COMMAND_MAX) for i in range(ENVIRONMENT_MAX)},
        discard_ref=text(REF_MAX),
    ),
    VerdictDecided: lambda: VerdictDecided(
        **LARGEST_IDS, commit=SHA, status="discard", val_bpb=1e300, memory_gb=1e300, best_before=1e300, best_after=1e300,
        head=SHA, reason=text(TEXT_MAX), description=text(DESCRIPTION_MAX), baseline=False,
    ),
    CampaignFinished: lambda: CampaignFinished(**LARGEST_IDS, experiments=10**9, head=SHA, best_val_bpb=1e300),
}


@pytest.mark.parametrize("kind", list(LARGEST), ids=lambda kind: kind.__name__)
def test_largest_event_of_each_type_travels_well_inside_the_payload_limit(kind: type[Event]):
    payload = published(LARGEST[kind]())
    assert len(payload) < 0.8 * MAX_PAYLOAD
    assert isinstance(parse_event(payload, kind.subject), kind)


def unbounded_text_fields(kind: type[Event]) -> list[str]:
    """Fields of an event that take text (or a list or mapping) without a bound on its size."""
    loose = []
    for field_name, info in kind.model_fields.items():
        shapes = {typing.get_origin(arg) or arg for arg in typing.get_args(info.annotation) or (info.annotation,)}
        if not shapes & {str, list, dict}:
            continue
        bounded = any(getattr(rule, "max_length", None) is not None or getattr(rule, "pattern", None) for rule in info.metadata)
        if not bounded and typing.get_origin(info.annotation) is not typing.Literal:
            loose.append(field_name)
    return loose


@pytest.mark.parametrize("kind", EVENT_CLASSES, ids=lambda kind: kind.__name__)
def test_every_text_field_of_every_event_is_bounded(kind: type[Event]):
    assert unbounded_text_fields(kind) == []


def test_fifty_long_lines_of_a_run_log_fit_the_log_tail():
    log = "\n".join(f"step {i:05d} | " + "loss: 2.5 " * 390 for i in range(500))
    kept = tail(log)
    assert kept.count("\n") == LOG_TAIL_LINES - 1 and len(kept) > 190_000
    assert run_finished(log_tail=kept).log_tail == kept


def test_karpathy_summary_and_a_real_environment_fit():
    metrics = {"val_bpb": 0.997900, "training_seconds": 300.1, "total_seconds": 325.9, "peak_vram_mb": 45060.2,
               "mfu_percent": 39.8, "total_tokens_M": 499.6, "num_steps": 953.0, "num_params_M": 50.3, "depth": 8.0}
    environment = {"host": "gpu-box-7", "platform": "Linux-6.8.0-x86_64-with-glibc2.39", "python": "3.11.9",
                   "torch": "2.5.1", "gpu": "NVIDIA H100 80GB HBM3", "command": "uv run train.py", "seed": "42"}
    assert run_finished(metrics=metrics, environment=environment).metrics == metrics


def test_diff_of_a_rewrite_of_a_600_line_train_py_fits(tmp_path: Path):
    before = "".join(f"layer_{i} = nn.Linear(config.n_embd, 4 * config.n_embd, bias=False)  # block {i}\n" for i in range(600))
    after = before.replace("bias=False", "bias=True")
    source = make_workspace(tmp_path / "source", before)
    repo = EditorRepo(tmp_path / "editor.git")
    git(repo.path, "fetch", "-q", str(source), "master:refs/heads/master")
    base = git(source, "rev-parse", "HEAD")
    made = repo.commit_file(base, after, "experiment: biases everywhere", NOW)
    assert made.lines_added == made.lines_removed == 600
    assert commit_made(diff=made.diff).diff == made.diff


def test_whole_file_rewrite_the_llm_proposer_allows_fits_one_proposal():
    current, rewritten = "x = 1\n" * 20_000, "y = 2\n" * 20_000  # 120,000 characters each
    assert proposal(edits=[Edit(search=current, replace=rewritten)]).edits[0].replace == rewritten


def test_nan_and_inf_metrics_travel_as_text_and_read_back():
    sent = run_finished(status="crash", metrics={"val_bpb": float("nan"), "peak_vram_mb": float("inf"), "depth": 8.0})
    received = parse_event(published(sent), RunFinished.subject)
    assert received.metrics == {"val_bpb": "nan", "peak_vram_mb": "inf", "depth": 8.0}


def test_event_dated_without_a_zone_inside_the_era_is_accepted():
    assert proposal(occurred_at=datetime(2026, 1, 1)).occurred_at.year == 2026


@pytest.mark.parametrize("bad", ["g" * 40, "A" * 40, "a" * 39, "../" + "a" * 37])
def test_a_commit_that_is_not_a_full_lower_case_hash_is_refused(bad: str):
    with pytest.raises(ValidationError):
        CommitStale(campaign="c1", experiment_id="c1-0001", producer="p/1", commit=bad, head=SHA)


@pytest.mark.parametrize("bad", ["c1", "c1-1", "c1-0001\n", "../c1-0001", "c1-00001x"])
def test_an_experiment_id_must_be_a_campaign_and_a_ticket_number(bad: str):
    with pytest.raises(ValidationError):
        CommitStale(campaign="c1", experiment_id=bad, producer="p/1", commit=SHA, head=SHA)


@pytest.mark.parametrize("control", ["\x1b[2J", "\x9b2J", "\x85", "\x7f"])
def test_a_description_with_a_terminal_control_is_refused(control: str):
    with pytest.raises(ValidationError):
        proposal(description=f"lower the LR{control}")
