"""What a chaos round does: which services it kills, the campaign it runs, and its plan of kills and fuzz rounds."""

from __future__ import annotations

import random
from dataclasses import dataclass

SERVICES = ("proposer", "editor", "trainer", "evaluator", "ledger")
TAG = "chaos"


@dataclass
class Plan:
    """How big a chaos round is."""

    experiments: int = 30
    service_kills: int = 30
    nats_kills: int = 3
    up_kills: int = 1
    fuzz: int = 2  # rounds of the fuzz corpus
    seed: int = 1
    outage: float = 2.0  # seconds the NATS server stays down
    watch_all: bool = False  # watch with a subscription to '>' (as `nats sub '>'` does) instead of one per event subject
    timeout: float = 900.0

    def steps(self, rng: random.Random) -> list[str]:
        """The order of things to do: service names (each service in turn, shuffled), 'nats', 'up', 'fuzz' spread among them."""
        steps = [SERVICES[i % len(SERVICES)] for i in range(self.service_kills)]
        rng.shuffle(steps)
        for kind, count in (("nats", self.nats_kills), ("up", self.up_kills), ("fuzz", self.fuzz)):
            for k in range(count):
                position = round(len(steps) * (k + 1) / (count + 1)) + rng.randint(-1, 1)
                steps.insert(min(max(position, 0), len(steps)), kind)
        return steps


QUICK = Plan(experiments=4, service_kills=4, nats_kills=1, up_kills=1, fuzz=1, timeout=240.0)
