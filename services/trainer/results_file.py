"""results.tsv in the workspace, written by the trainer that owns it: one row per experiment it has seen decided."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from shared.bus import Bus
from shared.events import VerdictDecided
from shared.replay import replay
from shared.results_tsv import ResultsWriter, render_rows, results_row

log = structlog.get_logger("trainer")


class ResultsFile:
    """The verdicts of one campaign, first one per experiment as the trainer applies them; each adds its row at the end."""

    def __init__(self, path: Path | None, campaign: str) -> None:
        self.path, self.campaign = path, campaign
        self.verdicts: dict[str, VerdictDecided] = {}  # by experiment, in the order they were decided
        self.rows: list[str] = []  # their rows, rendered once
        self.file = ResultsWriter(path) if path is not None else None

    def record(self, verdict: VerdictDecided) -> bool:
        """Keep the experiment's verdict; False when it is another campaign's or its experiment already has one."""
        if verdict.campaign != self.campaign or verdict.experiment_id in self.verdicts:
            return False
        self.verdicts[verdict.experiment_id] = verdict
        self.rows.append(results_row(verdict))
        return True

    def text(self) -> str:
        """The whole file: Karpathy's header and one row per decided experiment."""
        return render_rows(self.rows)

    async def write(self) -> None:
        """Add the new rows at the end (the whole file on the first write, or after someone changed it).

        A failure is logged, never raised: the next verdict writes every row again.
        """
        if self.file is None:
            return
        try:
            await asyncio.to_thread(self.file.write, self.text())
        except OSError as exc:  # a full disk or a read-only mount must not stop verdicts from moving the branch
            log.error("results.tsv could not be written", path=str(self.path), reason=str(exc))

    async def catch_up(self, bus: Bus, ran: Callable[[str, str], bool]) -> None:
        """Fold the campaign's verdicts from the stream (a restarted trainer's file is whole again), then write.

        ran(experiment, commit) says whether this campaign's trainer ran that commit for that experiment, as the
        live handler asks before it applies a verdict: one for a run that never happened never becomes a row.
        """
        if self.path is None:
            return
        for event in await replay(bus, [VerdictDecided], self.campaign):
            if ran(event.experiment_id, event.commit):
                self.record(event)
        await self.write()


Decide = Callable[[VerdictDecided], Awaitable[None]]


def recording(decide: Decide, results: ResultsFile, decided: Callable[[], set[str]]) -> Decide:
    """The trainer's verdict handler, then the verdict into results.tsv once the trainer has applied it.

    decided gives the experiments the trainer counts as decided: a verdict it set aside (one moving the branch
    elsewhere, one for no experiment of its own) never becomes a row. Writing within the handler means the
    verdict is acknowledged only after its row is on disk, so `up` stopping on a drained stream finds it there.
    """
    async def handle(verdict: VerdictDecided) -> None:
        await decide(verdict)
        if verdict.experiment_id in decided() and results.record(verdict):
            await results.write()

    return handle
