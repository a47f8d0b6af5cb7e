"""Shared bench helpers: running `autoresearch up` against a private NATS server, workspaces, watching events and processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
from pydantic import ValidationError

from shared.embedded import EmbeddedNats
from shared.events import EVENT_TYPES, Event, RunFinished, parse_event


async def record_campaign(command: list[str], nats_dir: Path, env: dict[str, str] | None = None) -> tuple[float, list[dict]]:
    """Run the `up` command line; return its wall time and the run.finished events it produced."""
    server = EmbeddedNats(nats_dir)
    url = server.start()
    runs: list[dict] = []
    nc = await nats.connect(url)

    async def keep(msg) -> None:
        runs.append(json.loads(msg.data))

    await nc.subscribe(RunFinished.subject, cb=keep)
    started = time.monotonic()
    done = await asyncio.to_thread(subprocess.run, command, env={**os.environ, **(env or {}), "NATS_URL": url},
                                   capture_output=True, text=True)
    wall = time.monotonic() - started
    await nc.flush()
    await nc.close()
    server.stop()
    if done.returncode != 0:
        raise SystemExit(f"autoresearch up failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, runs


TRAIN_PY = """import math
import time
LEARNING_RATE = 0.01
time.sleep({train})
print("---")
print(f"val_bpb: {{1.0 + (math.log10(LEARNING_RATE) - math.log10(0.0145)) ** 2:.6f}}")
print("peak_vram_mb: 100.0")
"""


def make_workspace(path: Path, train: float) -> None:
    """A git workspace whose train.py sleeps `train` seconds and scores its LEARNING_RATE on a known curve."""
    path.mkdir(parents=True)
    (path / "prepare.py").write_text("TIME_BUDGET = 1\n")
    (path / "train.py").write_text(TRAIN_PY.format(train=train))
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=path, check=True)


LOGGING_TRAIN_PY = '''"""A stand-in training run of 0.3 to 1 s that notes its start and end (commit, pid, time) in a log outside the workspace."""
import fcntl
import hashlib
import json
import math
import os
import random
import subprocess
import sys
import time

LEARNING_RATE = 0.01
BATCH_SIZE = 16
DEPTH = 4
WARMUP_STEPS = 10
WEIGHT_DECAY = 0.1
RUN_LOG = @RUN_LOG@


def commit():
    """The commit being run: git's HEAD, else the hash of this file's text."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head = ""
    with open(__file__, "rb") as source:
        return head or "content:" + hashlib.sha1(source.read()).hexdigest()


def note(**fields):
    with open(RUN_LOG, "a") as log:
        log.write(json.dumps(fields) + "\\n")


me = {"commit": commit(), "pid": os.getpid()}
lock = open(RUN_LOG + ".lock", "a")  # held while this run lives: a second run at the same time cannot take it
try:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    alone = True
except OSError:
    alone = False
note(event="start", time=time.time(), alone=alone, **me)
time.sleep(random.uniform(0.3, 1.0))
if DEPTH > 6:
    print("RuntimeError: out of memory (DEPTH too large)")
    note(event="end", time=time.time(), **me)
    sys.exit(1)
val_bpb = (1.0 + (math.log10(LEARNING_RATE) - math.log10(0.0145)) ** 2 + 0.004 * (DEPTH - 6) ** 2
           + 0.003 * abs(math.log2(BATCH_SIZE / 32)) + 0.0002 * abs(WARMUP_STEPS - 25) + 0.01 * abs(WEIGHT_DECAY - 0.05))
print("---")
print(f"val_bpb: {val_bpb:.6f}")
print(f"peak_vram_mb: {100.0 * DEPTH * BATCH_SIZE / 16:.1f}")
note(event="end", time=time.time(), **me)
'''


def make_logging_workspace(path: Path, run_log: Path) -> None:
    """A git workspace whose train.py takes 0.3 to 1 s, has five constants to tune, and logs each run to run_log."""
    path.mkdir(parents=True)
    (path / "prepare.py").write_text("TIME_BUDGET = 1\n")
    (path / "train.py").write_text(LOGGING_TRAIN_PY.replace("@RUN_LOG@", repr(str(run_log))))
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=path, check=True)


def read_run_log(run_log: Path) -> list[dict]:
    """The start and end notes the logging train.py wrote, in order."""
    if not run_log.exists():
        return []
    notes = []
    for line in run_log.read_text().splitlines():
        with contextlib.suppress(ValueError):  # a run killed while writing leaves half a line
            notes.append(json.loads(line))
    return notes


def service_pids(state_dir: Path) -> dict[str, list[int]]:
    """Running `python -m autoresearch service NAME ... --state-dir STATE` processes of one state folder, by NAME."""
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [part.decode(errors="replace") for part in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if "autoresearch" not in argv or "service" not in argv or "--state-dir" not in argv:
            continue
        name, state = argv.index("service") + 1, argv.index("--state-dir") + 1
        if name < len(argv) and state < len(argv) and argv[state] == str(state_dir):
            found.setdefault(argv[name], []).append(int(entry.name))
    return found


async def quiet(exc: Exception) -> None:
    """A NATS client's error callback that stays silent: a watcher expects the server to go away now and then."""


@dataclass(frozen=True)
class Seen:
    """An event and when a watcher first saw it (monotonic and wall-clock seconds)."""

    event: Event
    at: float
    wall: float


class EventRecorder:
    """A plain NATS client subscribed to every event subject, keeping each valid event of one campaign once, when first seen.

    With wildcard=True it subscribes to '>' instead, as `nats sub '>'` does. That also matches the inboxes
    the services pull into, so the server finds interest in a killed service's last pull request and may
    deliver to it: a watcher of this kind changes what it watches.
    """

    def __init__(self, campaign: str, wildcard: bool = False) -> None:
        self.campaign = campaign
        self.wildcard = wildcard
        self.events: dict[str, Seen] = {}
        self.nc: nats.NATS | None = None

    async def start(self, url: str) -> None:
        """Connect (reconnecting forever, so it rides out a server restart) and subscribe."""
        self.nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.5, error_cb=quiet)
        for subject in [">"] if self.wildcard else list(EVENT_TYPES):
            await self.nc.subscribe(subject, cb=self._keep, pending_bytes_limit=1024 * 1024 * 1024)

    async def _keep(self, msg) -> None:
        # '>' also sees each delivery to a consumer: the event id tells the copies apart
        if msg.subject not in EVENT_TYPES or len(msg.data) > 256 * 1024:
            return
        try:
            event = parse_event(msg.data, msg.subject)
        except (ValidationError, ValueError):
            return
        if event.campaign == self.campaign and event.event_id not in self.events:
            self.events[event.event_id] = Seen(event, time.monotonic(), time.time())

    def of(self, *kinds: type[Event]) -> list[Seen]:
        """The events of these types, in the order they were first seen."""
        return sorted((s for s in self.events.values() if isinstance(s.event, kinds)), key=lambda s: s.at)

    async def close(self) -> None:
        """Take in what is still on its way, then disconnect."""
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=5)
                await self.nc.close()


HASH = "f" * 40
EPOCH, FAR_FUTURE = "1970-01-01T00:00:00+00:00", "2999-12-31T23:59:59+00:00"
_FIELDS = {  # what each event type needs beyond the common fields, with plausible values
    "campaign.started": {"branch": "autoresearch/fuzz", "base_commit": HASH, "bundle": "fuzz", "lookahead": 1},
    "proposal.requested": {"base_commit": HASH, "sequence": 1},
    "proposal.created": {"base_commit": HASH, "description": "fuzz", "edits": [{"search": "A = 1", "replace": "A = 2"}]},
    "proposal.rejected": {"reason": "fuzz", "description": "fuzz"},
    "commit.made": {"commit": HASH, "parent": HASH, "message": "experiment: fuzz", "description": "fuzz", "diff": "",
                    "lines_added": 0, "lines_removed": 0, "bundle": "fuzz"},
    "commit.stale": {"commit": HASH, "head": HASH},
    "run.started": {"commit": HASH, "command": "true"},
    "run.progress": {"commit": HASH, "step": 1},
    "run.finished": {"commit": HASH, "status": "ok", "metrics": {"val_bpb": 0.5}},
    "verdict.decided": {"commit": HASH, "status": "keep", "head": HASH, "val_bpb": 0.5},
    "campaign.finished": {"experiments": 1, "head": HASH},
}
_TEXT = ("log_tail", "diff", "rationale", "reason", "description", "producer")  # the first one a type has gets the huge text


def plausible_event(subject: str, campaign: str, /, **changes: object) -> dict:
    """A JSON object shaped like an event of this type (valid as long as the contracts keep these fields), changed as asked."""
    now = datetime.now(UTC).isoformat()
    event = {"event_id": uuid.uuid4().hex, "type": subject, "schema_version": 1, "campaign": campaign,
             "experiment_id": f"{campaign}-0001", "occurred_at": now, "producer": "fuzz/1", **_FIELDS.get(subject, {})}
    if subject == "run.finished":
        event.update(started_at=now, finished_at=now)
    event.update(changes)
    return event


def fuzz_corpus(subject: str, campaign: str, rng: random.Random) -> list[tuple[str, bytes]]:
    """(category, payload) for one subject: nothing valid names `campaign`; valid-looking events name unknown campaigns."""

    def dump(event: dict) -> bytes:
        return json.dumps(event).encode()

    def stranger() -> str:
        return f"fuzz-{rng.randrange(16 ** 8):08x}"

    unknown = {"injected": {"rm": "-rf /"}}  # a field no contract has: invalid under any version of the contracts
    text = next((name for name in _TEXT if name in plausible_event(subject, campaign)), "producer")
    nested = b"[" * 100_000 + b"]" * 100_000
    return [
        *(("malformed json", p) for p in (b"{not json", b'{"type": "' + subject.encode(), b"", b"null", b"[1, 2, 3]",
                                          b"\xff\xfe\x00\x01", nested, b'"' + b"\\u0000" * 1000 + b'"')),
        ("wrong types", dump(plausible_event(subject, campaign, experiment_id=12345))),
        ("wrong types", dump(plausible_event(subject, campaign, campaign=[campaign]))),
        ("wrong types", dump(plausible_event(subject, campaign, schema_version="one", occurred_at="yesterday"))),
        ("wrong types", dump(plausible_event(subject, campaign, type="commit.made" if subject != "commit.made" else "run.started"))),
        ("wrong types", dump({key: None for key in plausible_event(subject, campaign)})),
        ("wrong types", dump(plausible_event(subject, campaign, **unknown))),
        ("huge fields", dump(plausible_event(subject, campaign, **unknown, **{text: "x" * 900_000}))),
        ("huge fields", dump(plausible_event(subject, stranger(), **{text: "x" * 900_000}))),
        ("unknown campaign", dump(plausible_event(subject, stranger()))),
        ("unknown campaign", dump(plausible_event(subject, "-not a campaign-"))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, stranger(), occurred_at=EPOCH))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, stranger(), occurred_at=FAR_FUTURE))),
        ("dates of 1970 and 2999", dump(plausible_event(subject, campaign, occurred_at="1970-13-45T99:99:99Z"))),
        ("ids of 1 MB", dump(plausible_event(subject, stranger(), event_id="i" * 1_000_000))),
        ("ids of 1 MB", dump(plausible_event(subject, stranger(), experiment_id="e" * 1_000_000))),
    ]
