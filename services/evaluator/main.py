"""Evaluator bootstrap: rebuild standings from the campaign's commits, runs and verdicts, then judge runs as they finish."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from services.evaluator.consumers import runs
from services.evaluator.handlers import Judge, on_commit_made, on_run_finished
from services.evaluator.noise import SequentialTest
from services.evaluator.policy import KeepRule
from services.evaluator.standings import Standings
from shared.bus import Bus, consume
from shared.campaigns import ServedCampaign, serving
from shared.events import REPEAT_MAX, CommitMade, RunFinished, VerdictDecided
from shared.replay import replay
from shared.settings import ServiceSettings


class EvaluatorSettings(ServiceSettings):
    """The keep rule and its budgets; the bus and, when it serves one campaign, its tag."""

    tag: ServedCampaign = None
    keep_rule: Literal["sprt", "bayes", "greedy"] = Field(default="sprt", description=(
        "sprt: a sequential test under measured noise; bayes: weighed against the campaign's past gains; greedy: best single draw."))
    baseline_runs: int = Field(default=3, ge=1, le=REPEAT_MAX, description="Runs of the unchanged baseline.")
    max_runs: int = Field(default=6, ge=1, le=REPEAT_MAX // 2, description="Runs of a change, and of the kept state, before deciding.")
    noise_floor: float = Field(default=0.0, ge=0, allow_inf_nan=False, description="The least noise σ the rule assumes.")
    vram_budget_gb: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="Runs above this peak memory are discarded.")
    false_keep_rate: float = Field(default=0.005, gt=0, lt=0.5, description="α: chance of keeping a change with no real gain.")
    miss_rate: float = Field(default=0.05, gt=0, lt=0.5, description="β: chance of discarding a change whose gain is effect·σ.")
    effect: float = Field(default=3.0, gt=0, le=20, description="The gain, in σ, the test is powered to keep.")
    false_keep_share: float = Field(default=0.02, gt=0, lt=0.5, description="bayes: keep once the chance of no gain is at most this.")

    def rule(self) -> KeepRule:
        """The keep rule these settings describe."""
        return KeepRule(
            name=self.keep_rule, baseline_runs=self.baseline_runs, max_runs=self.max_runs, noise_floor=self.noise_floor,
            vram_budget_gb=self.vram_budget_gb,
            test=SequentialTest(alpha=self.false_keep_rate, beta=self.miss_rate, effect=self.effect),
            false_keep_share=self.false_keep_share,
        )


async def serve(bus: Bus, stop: asyncio.Event, settings: EvaluatorSettings) -> None:
    """Consume run.finished (and commit.made, for line counts) until stopped."""
    standings = Standings()
    for event in await replay(bus, [CommitMade, RunFinished, VerdictDecided], settings.tag):
        standings.apply(event)
    judge = Judge(rule=settings.rule(), standings=standings, publish=bus.publish, producer=f"evaluator/{settings.instance}")
    handlers = {RunFinished: lambda e: on_run_finished(e, judge), CommitMade: lambda e: on_commit_made(e, judge)}
    await consume(bus, runs(settings.tag), serving(settings.tag, handlers), stop)
