"""What a long record costs: a proposer's answer to a ticket and the ledger's experiments page, at N experiments.

A campaign's record of N experiments is published onto a private nats-server (campaign.started with a real git
bundle of the benchmark's workspace, then per experiment its ticket, proposal, commit, run start, step lines,
run end and a discard verdict), then the real service processes are started against it and timed warm.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import git

from overhead_workspace import StandInModel, edit_list, make_workspace
from shared.bus import STREAMS, Bus, connect
from shared.edits import Edit
from shared.embedded import EmbeddedNats, free_port
from shared.events import (CampaignStarted, CommitMade, Event, ProposalCreated, ProposalRequested, RunFinished,
                           RunProgress, RunStarted, VerdictDecided)
from shared.gitobjects import base_key, upload_bundle
from shared.ids import (campaign_started_id, commit_made_id, experiment_id, proposal_id, run_finished_id, ticket_id,
                        verdict_id)

TAG = "history"
CONSTANTS = 20  # the record's edits cycle over these, so train.py (and the prompt's copy of it) stays one size
STEPS = 10  # step lines per run in the record


def experiment_events(number: int, base: str, at: datetime) -> list[Event]:
    """The events of one discarded experiment, as the services would have published them."""
    ids = dict(campaign=TAG, experiment_id=experiment_id(TAG, number), producer="bench/1")
    commit, name, value = f"{number:040x}", f"C{number % CONSTANTS + 1:03d}", f"{1 + number / 1000:.3f}"
    description = f"set {name} to {value}"
    return [
        ProposalRequested(**ids, event_id=ticket_id(TAG, number), base_commit=base, sequence=number),
        ProposalCreated(**ids, event_id=proposal_id(ids["experiment_id"]), base_commit=base, description=description,
                        edits=[Edit(search=f"{name} = 1.0", replace=f"{name} = {value}")], proposer_kind="llm"),
        CommitMade(**ids, event_id=commit_made_id(ids["experiment_id"], commit), commit=commit, parent=base,
                   message=f"experiment: {description}", description=description,
                   diff=f"-{name} = 1.0\n+{name} = {value}\n", lines_added=1, lines_removed=1, bundle=f"commit-{commit}"),
        RunStarted(**ids, commit=commit, description=description, command="python train.py"),
        *[RunProgress(**ids, commit=commit, step=step, loss=3.0 - step / 100) for step in range(STEPS)],
        RunFinished(**ids, event_id=run_finished_id(ids["experiment_id"], commit), commit=commit, parent=base,
                    description=description, status="ok", metrics={"val_bpb": 1.001, "peak_vram_mb": 100.0},
                    started_at=at, finished_at=at + timedelta(seconds=2), log_tail="---\nval_bpb: 1.001000\n",
                    exit_code=0, discard_ref=f"refs/autoresearch/{TAG}/discarded/{commit[:7]}"),
        VerdictDecided(**ids, event_id=verdict_id(ids["experiment_id"], commit), commit=commit, status="discard",
                       val_bpb=1.001, memory_gb=0.1, best_before=1.0, best_after=1.0, head=base,
                       description=description, reason="not better than the best"),
    ]


async def publish_record(bus: Bus, workspace: Path, size: int) -> str:
    """Publish a campaign of `size` experiments after its baseline; return the base commit."""
    repo = git.Repo(workspace)
    base = repo.head.commit.hexsha
    await upload_bundle(bus, repo, base_key(TAG), base)
    at = datetime.now(UTC) - timedelta(hours=1)
    ids = dict(campaign=TAG, experiment_id=experiment_id(TAG, 0), producer="bench/1")
    await bus.publish(CampaignStarted(**ids, event_id=campaign_started_id(TAG), branch=f"autoresearch/{TAG}",
                                      base_commit=base, bundle=base_key(TAG), lookahead=1))
    await bus.publish(RunFinished(**ids, event_id=run_finished_id(ids["experiment_id"], base), commit=base,
                                  status="ok", metrics={"val_bpb": 1.0}, started_at=at, finished_at=at, baseline=True))
    await bus.publish(VerdictDecided(**ids, event_id=verdict_id(ids["experiment_id"], base), commit=base, status="keep",
                                     val_bpb=1.0, head=base, baseline=True, description="baseline", best_after=1.0))
    for number in range(1, size + 1):
        # published one experiment at a time but without waiting for each acknowledgement in turn
        await asyncio.gather(*(bus.publish(event) for event in experiment_events(number, base, at)))
    return base


@asynccontextmanager
async def service(name: str, url: str, state: Path, env: dict[str, str], *args: str):
    """One service process of the campaign, stopped at the end."""
    command = [sys.executable, "-m", "autoresearch", "service", name, "--tag", TAG, "--state-dir", str(state), *args]
    with (state / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(*command, env={**os.environ, **env, "NATS_URL": url},
                                                       stdout=log, stderr=log)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def ticket_latencies(bus: Bus, base: str, first: int, count: int, timeout: float = 60.0) -> list[float]:
    """Seconds from publishing each of `count` tickets to its proposal, one ticket at a time."""
    waits = []
    for number in range(first, first + count):
        answered = asyncio.Event()
        wanted = experiment_id(TAG, number)

        async def seen(msg, wanted: str = wanted, answered: asyncio.Event = answered) -> None:
            if wanted.encode() in msg.data:
                answered.set()

        sub = await bus.nc.subscribe(ProposalCreated.subject, cb=seen)
        began = time.perf_counter()
        await bus.publish(ProposalRequested(campaign=TAG, experiment_id=wanted, producer="bench/1",
                                            event_id=ticket_id(TAG, number), base_commit=base, sequence=number))
        await asyncio.wait_for(answered.wait(), timeout)
        waits.append(time.perf_counter() - began)
        await sub.unsubscribe()
    return waits


def _get(url: str) -> tuple[float, bytes]:
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = answer.read()
    return time.perf_counter() - began, body


async def ledger_drained(bus: Bus, timeout: float = 120.0) -> None:
    """Wait until the ledger's consumers have stored every event: timing it while it still stores step lines
    would measure the catching up, not the answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        consumers = [c for stream in STREAMS for c in await bus.js.consumers_info(stream)
                     if (c.config.durable_name or "").startswith("ledger")]
        if consumers and all(c.num_pending == 0 and c.num_ack_pending == 0 for c in consumers):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the ledger did not store the whole record within {timeout:.0f}s")


async def api_latencies(port: int, size: int, repeats: int, timeout: float = 120.0) -> dict[str, float]:
    """Median seconds of the experiments page (10 rows, the default 100, 500) once the ledger holds every experiment."""
    base = f"http://127.0.0.1:{port}/api/campaigns/{TAG}/experiments"
    deadline = time.monotonic() + timeout
    while True:  # the ledger first catches up with the record
        try:
            _, body = await asyncio.to_thread(_get, f"{base}?limit=1&order=desc")
            if f'"total":{size + 1}'.encode() in body.replace(b" ", b""):
                break
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the ledger did not hold {size + 1} experiments within {timeout:.0f}s")
        await asyncio.sleep(0.2)
    figures = {}
    for label, query in (("ten", "?limit=10"), ("page", ""), ("all", "?limit=500")):
        await asyncio.to_thread(_get, base + query)  # warm: the first answer of a kind is built, later ones are read
        figures[label] = statistics.median([(await asyncio.to_thread(_get, base + query))[0] for _ in range(repeats)])
    return figures


async def measure(size: int, repeats: int, model: StandInModel) -> dict[str, float]:
    """At `size` experiments: the proposers' median ticket → proposal and the ledger API's median latency, in seconds."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-history-") as tmp:
        root = Path(tmp)
        make_workspace(root / "workspace", root / "runs.jsonl", 1.0, CONSTANTS)
        server = EmbeddedNats(root / "nats")
        url = await asyncio.to_thread(server.start)
        bus = await connect(url, "bench/1")
        try:
            base = await publish_record(bus, root / "workspace", size)
            figures: dict[str, float] = {}
            llm = {"AUTORESEARCH_LLM_BASE_URL": model.url, "AUTORESEARCH_LLM_MODEL": "stand-in"}
            next_ticket = size + 1
            for kind, env in (("llm", llm), ("search", {})):
                (root / kind).mkdir()
                model.restart()
                async with service("proposer", url, root / kind, env, "--proposer", kind):
                    await ticket_latencies(bus, base, next_ticket, 1, timeout=120.0)  # start-up and first catch-up
                    waits = await ticket_latencies(bus, base, next_ticket + 1, repeats)
                figures[f"proposer_{kind}"] = statistics.median(waits)
                next_ticket += repeats + 1
            port = free_port()
            (root / "ledger").mkdir()
            async with service("ledger", url, root / "ledger", {}, "--http-port", str(port)):
                await ledger_drained(bus)
                api = await api_latencies(port, next_ticket - 1, repeats)
            figures.update({f"api_{key}": value for key, value in api.items()})
            return figures
        finally:
            await bus.close()
            await asyncio.to_thread(server.stop)


def history_figures(sizes: list[int], repeats: int) -> dict[int, dict[str, float]]:
    """The history figures at each record size."""
    model = StandInModel(edit_list(CONSTANTS))
    try:
        return {size: asyncio.run(measure(size, repeats, model)) for size in sizes}
    finally:
        model.close()
