"""Evaluator bootstrap: rebuild standings from past verdicts, then judge runs as they finish."""

from __future__ import annotations

import asyncio

from services.evaluator.consumers import runs
from services.evaluator.handlers import Standings, on_run_finished
from shared.bus import Bus, consume
from shared.campaigns import ServedCampaign, serving
from shared.events import RunFinished, VerdictDecided
from shared.replay import replay
from shared.settings import ServiceSettings


class EvaluatorSettings(ServiceSettings):
    """The evaluator needs the bus and, when it serves one campaign, its tag."""

    tag: ServedCampaign = None


async def serve(bus: Bus, stop: asyncio.Event, settings: EvaluatorSettings) -> None:
    """Consume run.finished until stopped."""
    standings = Standings()
    for event in await replay(bus, [VerdictDecided], settings.tag):
        if isinstance(event, VerdictDecided):
            standings.apply(event)
    producer = f"evaluator/{settings.instance}"
    handlers = {RunFinished: lambda e: on_run_finished(e, standings, bus.publish, producer)}
    await consume(bus, runs(settings.tag), serving(settings.tag, handlers), stop)
