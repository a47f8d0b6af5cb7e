"""The next commit is made ready while the current run trains: after the verdict only the branch move remains."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from services.trainer.handlers import on_commit_made, on_confirmation_requested, on_verdict_decided
from services.trainer.runner import RunOutcome
from shared.events import CommitStale, RunFinished
from tests.unit.test_trainer_confirmations import confirmation
from tests.unit.test_trainer_handlers import (
    BASE, FIRST, NOW, SECOND, after_baseline, commit_made, make_context, verdict,
)


class FakeGatedRunner:
    """Runs each commit until the test lets it finish, remembering the order in which commits ran."""

    def __init__(self) -> None:
        self.commits: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.runs = 0

    async def __call__(self, on_progress=None, **labels) -> RunOutcome:
        self.runs += 1
        commit = labels["commit"]
        self.commits.append(commit)
        if commit != BASE:
            await self.gates.setdefault(commit, asyncio.Event()).wait()
            del self.gates[commit]
        return RunOutcome("ok", 0, {"val_bpb": 0.95}, "log tail", NOW, NOW)

    def finish(self, commit: str) -> None:
        self.gates.setdefault(commit, asyncio.Event()).set()


async def until(condition: Callable[[], bool]) -> None:
    """Let the handlers work until condition holds (a bound on waiting, not a figure under test)."""
    for _ in range(4000):  # 20 s: a loaded machine is slow, a broken handler never gets there
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the condition never held")


async def first_running_second_arrived(ctx) -> tuple[asyncio.Task, asyncio.Task]:
    """Experiment 1 trains (held by the runner) when experiment 2's commit, made on the same tip, arrives."""
    ctx.run = FakeGatedRunner()
    await after_baseline(ctx)
    first = asyncio.create_task(on_commit_made(commit_made(1, FIRST, BASE), ctx))
    await until(lambda: FIRST in ctx.run.commits)
    second = asyncio.create_task(on_commit_made(commit_made(2, SECOND, BASE), ctx))
    return first, second


async def test_next_commit_is_imported_and_its_room_built_while_the_run_trains():
    ctx = make_context()
    first, second = await first_running_second_arrived(ctx)
    await until(lambda: ("build_room", SECOND) in ctx.workspace.calls)
    assert ctx.ensure_commit.ensured == [FIRST, SECOND]
    assert not first.done() and ctx.progress.awaiting_verdict is None  # experiment 1 still trains, no verdict yet
    assert ctx.run.commits == [BASE, FIRST] and not second.done()
    ctx.run.finish(FIRST)
    await first
    second.cancel()


async def test_after_a_discard_the_prepared_commit_runs_at_once_without_another_import():
    ctx = make_context()
    first, second = await first_running_second_arrived(ctx)
    await until(lambda: ("build_room", SECOND) in ctx.workspace.calls)
    ctx.run.finish(FIRST)
    await first
    calls_before_verdict = len(ctx.workspace.calls)
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    await until(lambda: SECOND in ctx.run.commits)
    after = ctx.workspace.calls[calls_before_verdict:]
    assert after == [("reset_to", BASE, FIRST), ("check_out", SECOND, "prepared room")]  # only the branch moved
    assert ctx.ensure_commit.ensured == [FIRST, SECOND]
    [room] = [r for r in ctx.workspace.rooms if r.commit == SECOND]
    assert not room.removed  # the run's own now: the runner removes it
    ctx.run.finish(SECOND)
    await second
    assert [e.commit for e in ctx.publish.of(RunFinished)][-1] == SECOND


async def test_after_a_keep_the_prepared_commit_goes_back_stale_and_its_room_is_removed():
    ctx = make_context()
    first, second = await first_running_second_arrived(ctx)
    await until(lambda: ("build_room", SECOND) in ctx.workspace.calls)
    [room] = [r for r in ctx.workspace.rooms if r.commit == SECOND]
    ctx.run.finish(FIRST)
    await first
    assert not room.removed
    await on_verdict_decided(verdict(1, FIRST, "keep", FIRST), ctx)
    await second
    [stale] = ctx.publish.of(CommitStale)
    assert (stale.commit, stale.head) == (SECOND, FIRST)
    assert room.removed and ctx.run.commits == [BASE, FIRST]
    assert ("forget", SECOND) in ctx.workspace.calls  # nothing keeps its imported objects any longer


async def test_a_confirmation_of_the_current_experiment_runs_before_the_prepared_next_commit():
    ctx = make_context()
    first, second = await first_running_second_arrived(ctx)
    ctx.run.finish(FIRST)
    await first
    await until(lambda: ("build_room", SECOND) in ctx.workspace.calls)
    ctx.run.finish(FIRST)  # the confirmation's run, once it starts
    await on_confirmation_requested(confirmation(1, FIRST, 1), ctx)
    assert ctx.run.commits == [BASE, FIRST, FIRST] and not second.done()
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    await until(lambda: SECOND in ctx.run.commits)
    assert ctx.run.commits == [BASE, FIRST, FIRST, SECOND]
    ctx.run.finish(SECOND)
    await second


async def test_a_trainer_stopping_while_the_prepared_commit_waits_removes_its_room():
    ctx = make_context()
    first, second = await first_running_second_arrived(ctx)
    await until(lambda: ("build_room", SECOND) in ctx.workspace.calls)
    second.cancel()
    with pytest.raises(asyncio.CancelledError):
        await second
    [room] = [r for r in ctx.workspace.rooms if r.commit == SECOND]
    assert room.removed
    ctx.run.finish(FIRST)
    await first


async def test_a_refused_next_commit_is_reported_only_after_the_awaited_verdict():
    ctx = make_context()
    ctx.workspace.refused = {SECOND: "it changes files other than train.py: prepare.py"}
    first, second = await first_running_second_arrived(ctx)
    ctx.run.finish(FIRST)
    await first
    await asyncio.sleep(0.05)  # time for a preparation to report early, were it to
    assert [e.commit for e in ctx.publish.of(RunFinished)] == [FIRST]  # experiment 1 alone awaits its verdict
    await on_verdict_decided(verdict(1, FIRST, "discard", BASE), ctx)
    await second
    crash = ctx.publish.of(RunFinished)[-1]
    assert (crash.commit, crash.status) == (SECOND, "crash") and "prepare.py" in crash.log_tail
    assert ctx.run.commits == [BASE, FIRST]
