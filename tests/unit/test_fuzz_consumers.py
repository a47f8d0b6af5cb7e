"""Fuzzing every service's consumer: whatever arrives, the bus settles it once, and never retries what will fail again.

Each example is one message handed to shared.bus.handle_message with a fake message and the service's
real handlers over fake adapters (the editor keeps a real git repository: git's refusals are part of
what is fuzzed; the trainer's fake run reports arbitrary metrics and logs). The message is arbitrary
bytes, arbitrary JSON, a valid event with one field swapped for arbitrary JSON, or an arbitrary valid
event. In every case no exception escapes, the message ends acknowledged or terminated, it is handed
back only when a handler said 'not now' (RetryLater), and whatever a handler publishes, every consumer
can read.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nats.errors import MaxPayloadError
from pydantic import ValidationError

from services.editor.handlers import EditorContext, on_commit_stale, on_proposal_created
from services.editor.repo import EditorRepo
from services.evaluator.handlers import Judge, on_run_finished
from services.evaluator.policy import KeepRule
from services.evaluator.standings import Standings
from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.records import CampaignRecords
from services.proposer.search import SearchResearcher
from services.trainer.handlers import TrainerContext, on_commit_made, on_proposal_rejected, on_verdict_decided
from services.trainer.progress import CampaignProgress
from services.trainer.runner import RunOutcome
from shared.bus import handle_message
from shared.failures import RetryLater
from shared.edits import Edit
from shared.events import (
    MAX_PAYLOAD, CampaignFinished, CampaignStarted, CommitMade, CommitStale, Event, ProposalCreated, ProposalRejected,
    ProposalRequested, RunFinished, RunProgress, RunStarted, VerdictDecided, parse_event,
)
from shared.gitobjects import MissingObjects, has_commit
from tests.fakes import FakePublisher
from tests.message_fakes import FakeMsg

FUZZ = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
TRAIN_PY = "import time\nDEPTH = 4\nLEARNING_RATE = 0.01\nprint(DEPTH, LEARNING_RATE)\n"
CAMPAIGN = "c1"
FIXED_DATE = {"GIT_AUTHOR_DATE": "@1764244800 +0000", "GIT_COMMITTER_DATE": "@1764244800 +0000"}


def _git(path: Path, *args: str) -> str:
    env = {**os.environ, **FIXED_DATE, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    return subprocess.run(["git", *args], cwd=path, env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A workspace with a fixed base commit, the editor's repository holding it, a ledger store."""
    root = tmp_path_factory.mktemp("fuzz")
    source = root / "source"
    source.mkdir()
    _git(source, "init", "-q", "-b", "master")
    (source / "train.py").write_text(TRAIN_PY)
    (source / "prepare.py").write_text("TIME_BUDGET = 1\n")
    _git(source, "add", ".")
    _git(source, "commit", "-q", "-m", "workspace")
    repo = EditorRepo(root / "editor.git")
    _git(repo.path, "fetch", "-q", str(source), "master:refs/heads/master")
    store = EventStore(Path(":memory:"))
    yield {"base": _git(source, "rev-parse", "HEAD"), "repo": repo, "store": store, "results": root / "results"}
    store.close()


# --- strategies -------------------------------------------------------------------------------------------

OTHER_SHAS = ["1" * 40, "e" * 40, "0123456789abcdef0123456789abcdef01234567"]
texts = st.text(max_size=40)
lines = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40)
numbers = st.sampled_from([math.nan, math.inf, -math.inf, 0.0, 1e308]) | st.floats() | st.integers(-(10**20), 10**20)
moments = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2110, 1, 1), timezones=st.just(UTC) | st.none())
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def built(kind: type[Event]) -> Callable[..., Event | None]:
    """kind(**fields), or None when the fields do not make a valid event."""

    def build(**fields: Any) -> Event | None:
        try:
            return kind(**fields)
        except ValidationError:
            return None

    return build


def valid_events(base: str) -> dict[type[Event], st.SearchStrategy[Event]]:
    """A strategy of arbitrary valid events for each type a service consumes."""
    shas = st.just(base) | st.sampled_from([base, *OTHER_SHAS])  # the commit every service knows, most of the time
    experiments = st.sampled_from([f"{CAMPAIGN}-0000", f"{CAMPAIGN}-0001", f"{CAMPAIGN}-0002"]) | st.builds(
        "{}-{:04d}".format, st.sampled_from([CAMPAIGN, "c2", "x.y_z"]), st.integers(0, 10**6))
    ids = dict(
        campaign=st.just(CAMPAIGN) | st.sampled_from([CAMPAIGN, "c2"]), experiment_id=experiments, producer=st.just("fuzz/1"),
        occurred_at=moments,
    )
    searches = st.sampled_from(["LEARNING_RATE = 0.01", "DEPTH = 4", "import time", "0.01"])
    edits = st.builds(
        Edit,
        search=st.one_of(searches, searches, st.text(min_size=1, max_size=20)),
        replace=st.one_of(st.sampled_from(["LEARNING_RATE = 0.02", "DEPTH = 8", "DEPTH = (", ""]), texts),
        path=st.just("train.py") | st.sampled_from(["train.py", "./train.py", "../train.py", "prepare.py"]),
    )
    metrics = st.dictionaries(st.sampled_from(["val_bpb", "peak_vram_mb"]) | st.text(max_size=8), numbers | texts, max_size=4)
    strategies = {
        ProposalCreated: st.builds(
            built(ProposalCreated), **ids, base_commit=shas, description=lines | texts, rationale=texts,
            expected_vram_impact=texts, edits=st.lists(edits, min_size=1, max_size=2),
            kind=st.sampled_from(["change", "repair"]), latency_s=st.none() | numbers, cost=st.none() | numbers,
        ),
        ProposalRequested: st.builds(built(ProposalRequested), **ids, base_commit=shas, sequence=st.integers(1, 10**6)),
        ProposalRejected: st.builds(built(ProposalRejected), **ids, description=lines, reason=texts,
                                    base_commit=shas | st.just("")),
        CommitStale: st.builds(built(CommitStale), **ids, commit=shas, head=shas),
        CommitMade: st.builds(
            built(CommitMade), **ids, commit=shas, parent=st.just(base) | shas, message=texts, description=lines, diff=texts,
            lines_added=st.integers(0, 10**6), lines_removed=st.integers(0, 10**6), bundle=texts,
            rebased_from=st.none() | shas,
        ),
        RunFinished: st.builds(
            built(RunFinished), **ids, commit=shas, parent=st.none() | shas, description=lines,
            status=st.sampled_from(["ok", "crash", "timeout"]), metrics=metrics, log_tail=texts,
            exit_code=st.none() | st.integers(-(10**12), 10**12), started_at=moments, finished_at=moments,
            baseline=st.booleans(), environment=st.dictionaries(texts, texts, max_size=3), discard_ref=st.none() | texts,
        ),
        VerdictDecided: st.builds(
            built(VerdictDecided), **ids, commit=shas, status=st.sampled_from(["keep", "discard", "crash"]),
            val_bpb=st.none() | numbers, memory_gb=numbers, best_before=st.none() | numbers,
            best_after=st.none() | numbers, head=shas, reason=texts, description=lines, baseline=st.booleans(),
        ),
        CampaignStarted: st.builds(built(CampaignStarted), **ids, branch=texts, base_commit=shas, bundle=texts,
                                   lookahead=st.integers(0, 10)),
        RunStarted: st.builds(built(RunStarted), **ids, commit=shas, description=lines, command=texts),
        RunProgress: st.builds(built(RunProgress), **ids, commit=shas, step=st.integers(0, 10**9),
                               percent=st.none() | numbers, loss=st.none() | numbers),
        CampaignFinished: st.builds(built(CampaignFinished), **ids, experiments=st.integers(0, 10**6), head=shas,
                                    best_val_bpb=st.none() | numbers),
    }
    return {kind: strategy.filter(lambda event: event is not None) for kind, strategy in strategies.items()}


def published(event: Event) -> bytes:
    """The bytes Bus.publish sends for an event."""
    return type(event).model_validate(event.model_dump()).model_dump_json().encode()


class ReadBackPublisher(FakePublisher):
    """Publishes as the bus does: encoded, refused over the payload limit, then read back as a consumer reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.unreadable: list[tuple[Event, Exception]] = []

    async def __call__(self, event: Event) -> None:
        payload = published(event)
        if len(payload) > MAX_PAYLOAD:
            raise MaxPayloadError
        try:
            parse_event(payload, event.subject)
        except ValidationError as exc:
            self.unreadable.append((event, exc))
        await super().__call__(event)


def messages(base: str, kinds: list[type[Event]]) -> st.SearchStrategy[FakeMsg]:
    """Messages on the subjects of kinds: garbage, JSON, a valid event with one field swapped, a valid event."""
    events = valid_events(base)
    valid = st.one_of([events[kind] for kind in kinds])
    subjects = st.sampled_from([kind.subject for kind in kinds])

    def swapped(event: Event, field: str, value: Any) -> FakeMsg:
        data = json.loads(published(event))
        data[field if field in data else "type"] = value
        return FakeMsg(event.subject, json.dumps(data).encode())

    swap = valid.flatmap(lambda event: st.builds(
        swapped, st.just(event), st.sampled_from(sorted(json.loads(published(event)))), json_values,
    ))
    intact = valid.map(lambda event: FakeMsg(event.subject, published(event)))
    return st.one_of(
        st.builds(FakeMsg, subjects, st.binary(max_size=200)),
        st.builds(lambda subject, value: FakeMsg(subject, json.dumps(value).encode()), subjects, json_values),
        swap, intact, intact,
    )


# --- the services over fakes --------------------------------------------------------------------------------

Handlers = dict[str, Callable[[Event], Awaitable[None]]]
Service = Callable[[dict[str, Any], st.DataObject, ReadBackPublisher], Handlers]


def editor(state: dict[str, Any], data: st.DataObject, publish: ReadBackPublisher) -> Handlers:
    repo: EditorRepo = state["repo"]

    async def fetch(campaign: str, commit: str) -> None:  # what ensure_commit does when no bundle has it
        if not has_commit(repo.repo, commit):
            raise MissingObjects(f"no bundle for commit {commit} in the object store")

    async def ship(commit: str, parent: str) -> str:
        return f"commits/{commit}.bundle"

    ctx = EditorContext(repo, publish, fetch, ship, "editor/fuzz")
    return {ProposalCreated.subject: lambda e: on_proposal_created(e, ctx), CommitStale.subject: lambda e: on_commit_stale(e, ctx)}


def evaluator(state: dict[str, Any], data: st.DataObject, publish: ReadBackPublisher) -> Handlers:
    judge = Judge(rule=KeepRule(), standings=Standings(), publish=publish, producer="evaluator/fuzz")
    return {RunFinished.subject: lambda e: on_run_finished(e, judge)}


def ledger(state: dict[str, Any], data: st.DataObject, publish: ReadBackPublisher) -> Handlers:
    ctx = LedgerContext(state["store"], state["results"], {})
    return {kind.subject: (lambda e: on_event(e, ctx)) for kind in LEDGER_KINDS}


def proposer(state: dict[str, Any], data: st.DataObject, publish: ReadBackPublisher) -> Handlers:
    async def records(campaign: str) -> CampaignRecords:
        return CampaignRecords()

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        return TRAIN_PY if commit == state["base"] and path == "train.py" else None

    ctx = ProposerContext(SearchResearcher(), publish, records, read_file, "proposer/fuzz")
    return {ProposalRequested.subject: lambda e: on_proposal_requested(e, ctx)}


class FakeWorkspace:
    """A branch tip in memory."""

    def __init__(self, head: str) -> None:
        self.tip, self.path = head, Path("/nonexistent-workspace")

    def head(self) -> str:
        return self.tip

    def check_out(self, commit: str, room: object = None) -> None:
        pass

    def build_room(self, commit: str) -> object:
        return object()

    def forget(self, commit: str) -> None:
        pass

    def refusal(self, commit: str, parent: str) -> str | None:
        return None

    def advance(self, commit: str) -> None:
        self.tip = commit

    def reset_to(self, commit: str, discarded: str | None = None) -> None:
        self.tip = commit


outcomes = st.builds(
    RunOutcome, st.sampled_from(["ok", "crash", "timeout"]), st.none() | st.integers(-255, 255),
    st.fixed_dictionaries({"val_bpb": numbers}, optional={"peak_vram_mb": numbers | texts, "mfu_percent": texts}),
    texts, st.just(datetime(2026, 11, 27, tzinfo=UTC)), st.just(datetime(2026, 11, 27, 0, 5, tzinfo=UTC)),
)


def trainer(state: dict[str, Any], data: st.DataObject, publish: ReadBackPublisher) -> Handlers:
    async def run(on_progress=None, **_: Any) -> RunOutcome:  # whatever a train.py may print
        return data.draw(outcomes)

    async def ensure(commit: str) -> None:
        pass

    progress = CampaignProgress(CAMPAIGN)
    progress.apply(CampaignStarted(campaign=CAMPAIGN, experiment_id=f"{CAMPAIGN}-0000", producer="fuzz/1",
                                   branch=f"autoresearch/{CAMPAIGN}", base_commit=state["base"], bundle="base", lookahead=1))
    ctx = TrainerContext(workspace=FakeWorkspace(state["base"]), progress=progress, publish=publish, run=run,
                         ensure_commit=ensure, command="python train.py", producer="trainer/fuzz")
    ctx.idle.set()
    return {
        CommitMade.subject: lambda e: on_commit_made(e, ctx), VerdictDecided.subject: lambda e: on_verdict_decided(e, ctx),
        ProposalRejected.subject: lambda e: on_proposal_rejected(e, ctx),
    }


LEDGER_KINDS = [CampaignStarted, ProposalRequested, ProposalCreated, ProposalRejected, CommitMade, CommitStale, RunStarted,
                RunProgress, RunFinished, VerdictDecided, CampaignFinished]
SERVICES: dict[str, tuple[Service, list[type[Event]]]] = {
    "editor": (editor, [ProposalCreated, CommitStale]),
    "evaluator": (evaluator, [RunFinished]),
    "ledger": (ledger, LEDGER_KINDS),
    "proposer": (proposer, [ProposalRequested]),
    "trainer": (trainer, [CommitMade, VerdictDecided, ProposalRejected]),
}


async def deliver(msg: FakeMsg, handlers: Handlers) -> list[BaseException]:
    """Hand msg to the bus as a consumer would; return what the handler raised, if anything."""
    raised: list[BaseException] = []

    def watched(handler: Callable[[Event], Awaitable[None]]) -> Callable[[Event], Awaitable[None]]:
        async def handle(event: Event) -> None:
            try:
                await handler(event)
            except Exception as exc:
                raised.append(exc)
                raise
        return handle

    with structlog.testing.capture_logs():  # rendering thousands of tracebacks would be most of the run
        await asyncio.wait_for(
            handle_message(msg, {subject: watched(h) for subject, h in handlers.items()}, ack_wait=30.0, max_deliver=5), 30,
        )
    return raised


def settled_once(msg: FakeMsg, raised: list[BaseException]) -> None:
    """The message was acknowledged or terminated, or handed back because its handler said 'not now'."""
    assert len(msg.settled) == 1, msg.settled
    if msg.settled == ["nak"]:
        assert raised and isinstance(raised[-1], RetryLater), raised


@pytest.mark.parametrize("service", SERVICES)
def test_whatever_arrives_is_settled_once_and_what_is_published_reads_back(state: dict[str, Any], service: str):
    make_handlers, kinds = SERVICES[service]

    @FUZZ
    @given(st.data())
    def check(data: st.DataObject) -> None:
        msg = data.draw(messages(state["base"], kinds))
        publish = ReadBackPublisher()
        raised = asyncio.run(deliver(msg, make_handlers(state, data, publish)))
        settled_once(msg, raised)
        assert publish.unreadable == []

    check()


@FUZZ
@given(st.data())
def test_malformed_message_is_terminated_on_its_first_delivery(state: dict[str, Any], data: st.DataObject):
    service = data.draw(st.sampled_from(sorted(SERVICES)))
    make_handlers, kinds = SERVICES[service]
    subject = data.draw(st.sampled_from([kind.subject for kind in kinds]))
    body = data.draw(st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode()))
    msg = FakeMsg(subject, body)
    asyncio.run(deliver(msg, make_handlers(state, data, ReadBackPublisher())))
    assert msg.settled == ["term"]


@pytest.mark.parametrize("kind", LEDGER_KINDS, ids=lambda kind: kind.__name__)
def test_every_valid_event_reads_back_from_what_the_bus_publishes(state: dict[str, Any], kind: type[Event]):
    @FUZZ
    @given(valid_events(state["base"])[kind])
    def check(event: Event) -> None:
        received = parse_event(published(event), kind.subject)
        assert published(received) == published(event)

    check()
