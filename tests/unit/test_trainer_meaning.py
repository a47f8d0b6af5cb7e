"""The trainer checks events for meaning: a valid credential is not enough to get code run or the branch moved."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.handlers import on_commit_made, on_verdict_decided
from services.trainer.workspace import Workspace
from shared.events import ProposalRequested, RunFinished
from shared.failures import RetryLater
from shared.ids import experiment_id
from tests.conftest import git, make_workspace
from tests.unit.test_trainer_handlers import BASE, CAMPAIGN, FIRST, IDS, SECOND, after_baseline, commit_made, make_context, verdict


async def test_a_commit_answering_no_ticket_is_never_run():
    ctx = make_context(lookahead=0)
    await after_baseline(ctx)
    runs = ctx.run.runs
    await on_commit_made(commit_made(7, FIRST, BASE), ctx)  # ticket 7 was never issued
    assert ctx.run.runs == runs and ctx.publish.of(RunFinished) == []


async def test_a_commit_the_workspace_refuses_ends_as_a_crash_saying_why_without_running():
    ctx = make_context()
    await after_baseline(ctx)
    ctx.workspace.refused = {FIRST: "it changes files other than train.py: prepare.py"}
    runs = ctx.run.runs
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    [finished] = ctx.publish.of(RunFinished)
    assert finished.status == "crash" and "prepare.py" in finished.log_tail and ctx.run.runs == runs


async def test_a_verdict_for_no_experiment_of_the_campaign_moves_nothing():
    ctx = make_context()
    await after_baseline(ctx)
    await on_verdict_decided(verdict(999, SECOND, "keep", SECOND), ctx)
    assert ctx.workspace.tip == BASE and ("advance", SECOND) not in ctx.workspace.calls


async def test_a_verdict_that_would_move_the_branch_elsewhere_is_set_aside():
    ctx = make_context()
    await after_baseline(ctx)
    await on_commit_made(commit_made(1, FIRST, BASE), ctx)
    await on_verdict_decided(verdict(1, FIRST, "keep", SECOND), ctx)  # keep, but head names another commit
    assert ctx.workspace.tip == BASE and ctx.progress.awaiting_verdict == experiment_id(CAMPAIGN, 1)
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    assert ctx.workspace.tip == FIRST


async def test_a_verdict_before_its_run_has_finished_is_held_not_applied():
    ctx = make_context()
    await after_baseline(ctx)
    with pytest.raises(RetryLater):
        await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    assert ctx.workspace.tip == BASE


def test_a_ticket_number_beyond_the_next_is_not_counted():
    ctx = make_context()
    ctx.progress.apply(ProposalRequested(**IDS, experiment_id=experiment_id(CAMPAIGN, 999999), base_commit=BASE,
                                         sequence=999999))
    assert ctx.progress.tickets == 0 and not ctx.progress.issued(experiment_id(CAMPAIGN, 999999))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    path = make_workspace(tmp_path / "ws", "LR = 0.1\n")
    return Workspace(path, "meaning")


def commit_changing(path: Path, files: dict[str, str], parent: str | None = None) -> str:
    if parent:
        git(path, "checkout", "-q", "--detach", parent)
    for name, text in files.items():
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "change")
    return git(path, "rev-parse", "HEAD")


def test_the_workspace_refuses_a_commit_that_changes_prepare_py(workspace: Workspace):
    base = git(workspace.path, "rev-parse", "HEAD")
    honest = commit_changing(workspace.path, {"train.py": "LR = 0.2\n"}, base)
    tampered = commit_changing(workspace.path, {"train.py": "LR = 0.3\n", "prepare.py": "TIME_BUDGET = 0\n"}, base)
    assert workspace.refusal(honest, base) is None
    refusal = workspace.refusal(tampered, base)
    assert refusal is not None and "prepare.py" in refusal


def test_the_workspace_refuses_a_commit_that_does_not_sit_on_the_tip(workspace: Workspace):
    base = git(workspace.path, "rev-parse", "HEAD")
    hidden = commit_changing(workspace.path, {"prepare.py": "TIME_BUDGET = 0\n"}, base)
    on_top = commit_changing(workspace.path, {"train.py": "LR = 0.2\n"})  # train.py alone, but on a hidden change
    refusal = workspace.refusal(on_top, base)
    assert refusal is not None and "not the branch tip" in refusal and hidden[:7] in refusal
