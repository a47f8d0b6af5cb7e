"""`up` watching whether its proposers keep up: a notice when they do not, and with --proposers auto, one more."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from autoresearch.supervision import Supervised, supervise
from services.proposer.pace import PaceWatch, advice, proposers_wanted
from shared.events import Event

DEFAULT_MAX_PROPOSERS = 4


class ProposerScaling:
    """Times proposals and runs from the campaign's events; says once when proposers are the bottleneck, or adds one."""

    def __init__(
        self, proposers: int, lookahead: int, auto: bool, bound: int, make_proposer: Callable[[int], Supervised],
        services: list[Supervised], stop: asyncio.Event, failure: list[str], notice: Callable[[str], None],
    ) -> None:
        self.watch = PaceWatch(proposers=proposers)
        # Tickets bound how many proposals are thought of at once: 1 + lookahead; more proposers would sit idle.
        self.lookahead, self.auto, self.bound = lookahead, auto, min(bound, 1 + lookahead)
        self.make_proposer, self.services, self.stop, self.failure, self.notice = (
            make_proposer, services, stop, failure, notice)
        self.told = False
        self.tasks: list[asyncio.Task] = []
        self.adding = False

    def observe(self, event: Event) -> None:
        """Fold one event in, then act on the pace: a notice, or (auto) a proposer started through supervision."""
        self.watch.observe(event)
        pace = self.watch.pace()
        if pace is None or not pace.bottleneck or self.stop.is_set():
            return
        wanted = proposers_wanted(pace, self.bound) if self.auto else pace.proposers
        if wanted > pace.proposers and not self.adding:
            self.adding = True
            index = pace.proposers  # 0-based: the second proposer is index 1, instance proposer-2
            self.notice(f"proposers are the bottleneck (a proposal takes {pace.think_s:.1f} s, a run {pace.run_s:.1f} s, "
                        f"with {pace.proposers}); starting proposer-{index + 1} of at most {self.bound}")
            self.tasks.append(asyncio.get_running_loop().create_task(self._add(index)))
        elif not self.told and not self.adding:
            self.told = True  # once: the same advice on every event would bury the campaign's own lines
            self.notice(advice(pace, self.lookahead) if not self.auto else
                        f"{advice(pace, self.lookahead).split('; try')[0]}; --proposers auto stops at {self.bound} "
                        "(--max-proposers, and at most 1 + --lookahead)")

    async def _add(self, index: int) -> None:
        """Start one more proposer under the same supervision as the others: restarts, logs, stop."""
        service = self.make_proposer(index)
        self.services.append(service)  # stopped with the others at the end
        try:
            await service.start()
            self.watch.added()
        finally:
            self.adding = False
        await supervise([service], self.stop, self.failure, self.notice)

    async def close(self) -> None:
        """Wait for the supervision of the proposers added (it ends when stop is set)."""
        await asyncio.gather(*self.tasks, return_exceptions=True)
