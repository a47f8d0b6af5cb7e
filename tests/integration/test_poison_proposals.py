"""The editor against a real nats-server: proposals git would refuse are set aside once, the next one is committed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from services.editor.handlers import EditorContext, on_proposal_created
from services.editor.repo import EditorRepo
from shared.bus import STREAM, Bus, consume
from shared.events import CommitMade, Edit, Event, ProposalCreated
from shared.gitobjects import commit_key, ensure_commit, upload_bundle
from shared.replay import replay
from tests.conftest import git, make_workspace

TRAIN_PY = "import time\nDEPTH = 4\nLEARNING_RATE = 0.01\nprint(DEPTH, LEARNING_RATE)\n"


async def eventually(condition, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def proposal(base: str, number: int) -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id=f"c1-{number:04d}", producer="proposer/1", base_commit=base,
                           description=f"raise the rate {number}",
                           edits=[Edit(search="LEARNING_RATE = 0.01", replace=f"LEARNING_RATE = 0.0{number + 1}")])


def tampered(event: ProposalCreated, **fields: object) -> bytes:
    """The event's JSON with fields overwritten, as a hostile or broken publisher could send it."""
    return json.dumps({**json.loads(event.model_dump_json()), **fields}).encode()


async def test_proposals_git_would_refuse_are_set_aside_once_and_the_next_is_committed(bus: Bus, tmp_path: Path):
    source = make_workspace(tmp_path / "source", TRAIN_PY)
    base = git(source, "rev-parse", "HEAD")
    repo = EditorRepo(tmp_path / "editor.git")
    git(repo.path, "fetch", "-q", str(source), "master:refs/heads/master")

    async def fetch_commit(campaign: str, commit: str) -> None:
        await ensure_commit(bus, repo.repo, commit, campaign)

    async def ship_commit(commit: str, parent: str) -> str:
        await upload_bundle(bus, repo.repo, commit_key(commit), commit, exclude=parent)
        return commit_key(commit)

    ctx = EditorContext(repo, bus.publish, fetch_commit, ship_commit, "editor/test")
    calls: list[str] = []

    async def handle(event: Event) -> None:
        await on_proposal_created(event, ctx)
        calls.append(event.experiment_id)  # once handled: its ack goes out before any later request

    # a commit date git reads as no date at all, and a NUL that no command line can carry
    await bus.js.publish(ProposalCreated.subject, tampered(proposal(base, 1), occurred_at="1970-01-01T00:00:00Z"),
                         stream=STREAM)
    await bus.js.publish(ProposalCreated.subject, tampered(proposal(base, 2), description="raise\u0000the rate"),
                         stream=STREAM)
    await bus.publish(proposal(base, 3))
    stop = asyncio.Event()
    task = asyncio.create_task(consume(bus, "editor-poison", {ProposalCreated: handle}, stop))
    try:
        await eventually(lambda: "c1-0003" in calls)
        info = await bus.js.consumer_info(STREAM, "editor-poison")
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
    assert calls == ["c1-0003"]  # neither poison reached the handler, let alone came back to it
    assert (info.num_redelivered, info.num_ack_pending, info.num_pending) == (0, 0, 0)
    [made] = [e for e in await replay(bus, [CommitMade]) if isinstance(e, CommitMade)]
    assert (made.experiment_id, made.parent) == ("c1-0003", base)
