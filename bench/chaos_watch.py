"""The chaos benchmark's watcher: a plain NATS client that records each event of the campaign, and when it first saw it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable
from dataclasses import dataclass

import nats
from pydantic import ValidationError

from shared.events import EVENT_TYPES, CampaignFinished, Event, RunStarted, VerdictDecided, parse_event


async def quiet(exc: Exception) -> None:
    """A NATS client's error callback that stays silent: a watcher expects the server to go away now and then."""


@dataclass(frozen=True)
class Seen:
    """An event and when a watcher first saw it (monotonic and wall-clock seconds)."""

    event: Event
    at: float
    wall: float


def experiments_decided(verdicts: Iterable[VerdictDecided]) -> int:
    """Experiments beyond the baseline with a verdict."""
    return len({v.experiment_id for v in verdicts if not v.baseline})


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

    def progress(self) -> list[Seen]:
        """The loop's moves (run.started and verdict.decided), in the order they were first seen."""
        return self.of(RunStarted, VerdictDecided)

    def progress_after(self, moment: float) -> float | None:
        """When the loop first moved (run.started or verdict.decided) after moment."""
        return next((s.at for s in self.progress() if s.at > moment), None)

    def decided(self) -> int:
        """Experiments beyond the baseline with a verdict."""
        return experiments_decided(s.event for s in self.of(VerdictDecided))

    def finished(self, experiments: int) -> bool:
        """The campaign announced that it reached a limit of `experiments`."""
        return any(s.event.experiments >= experiments for s in self.of(CampaignFinished))

    async def close(self) -> None:
        """Take in what is still on its way, then disconnect."""
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.flush(timeout=5)
                await self.nc.close()
