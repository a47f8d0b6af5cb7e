"""What a campaign has spent on the language model, and whether it may spend more."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.proposer.records import ExperimentRecord


@dataclass(frozen=True)
class Prices:
    """Price per million input and output tokens."""

    input: float
    output: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """What these tokens cost."""
        return (input_tokens * self.input + output_tokens * self.output) / 1_000_000


@dataclass(frozen=True)
class Spend:
    """Tokens and money a campaign has used so far."""

    tokens: int
    cost: float | None


@dataclass(frozen=True)
class Budget:
    """Optional caps on a campaign's tokens and money; None means no cap."""

    token_cap: int | None = None
    cost_cap: float | None = None
    prices: Prices | None = None

    def spent(self, history: Sequence[ExperimentRecord], unrecorded_tokens: tuple[int, int] = (0, 0)) -> Spend:
        """Add up every proposal of the campaign, from any proposer, plus tokens of answers never published."""
        tokens = sum(r.input_tokens + r.output_tokens for r in history) + sum(unrecorded_tokens)
        if self.prices is None:
            return Spend(tokens, None)
        # A proposal that recorded its cost keeps it; one that did not is priced at this proposer's rates.
        cost = sum(
            r.cost if r.cost is not None else self.prices.cost(r.input_tokens, r.output_tokens) for r in history
        ) + self.prices.cost(*unrecorded_tokens)
        return Spend(tokens, cost)

    def exhausted(self, spend: Spend) -> str | None:
        """Why no more proposals may be drafted, or None while the budget lasts."""
        if self.token_cap is not None and spend.tokens >= self.token_cap:
            return f"the campaign's LLM token cap is reached: {spend.tokens} of {self.token_cap} tokens spent"
        if self.cost_cap is not None and spend.cost is not None and spend.cost >= self.cost_cap:
            return f"the campaign's LLM cost cap is reached: {spend.cost:.4f} of {self.cost_cap:.4f} spent"
        return None

    def price(self, input_tokens: int, output_tokens: int) -> float | None:
        """The cost of one proposal's tokens, when prices are known."""
        return None if self.prices is None else round(self.prices.cost(input_tokens, output_tokens), 6)
