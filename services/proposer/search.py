"""The built-in search proposer: one hyperparameter change at a time, steered by past verdicts."""

from __future__ import annotations

import random
from dataclasses import dataclass

from services.proposer.constants import Constant, literal, read_constants, rewrite
from services.proposer.records import ExperimentRecord
from services.proposer.researcher import Draft, NoIdea, ResearchContext
from shared.edits import Edit

SKIP = ("SEED", "TIME_BUDGET", "EVAL", "VOCAB", "MAX_SEQ_LEN")
MEMORY_NAMES = ("DEPTH", "LAYER", "DIM", "EMBD", "WIDTH", "HIDDEN", "BATCH", "SEQ", "HEAD", "MLP", "RATIO_MLP", "TOKENS")
POWER_NAMES = ("BATCH", "DIM", "EMBD", "WIDTH", "HIDDEN", "SIZE", "TOKENS", "SEQ")
PROBABILITY_NAMES = ("RATIO", "FRAC", "DROPOUT")
NEAR_ONE_NAMES = ("BETA", "MOMENTUM", "EMA")
PRIORS = (("LR", 0.4), ("LEARNING_RATE", 0.4), ("BATCH", 0.3), ("DEPTH", 0.25), ("LAYER", 0.25), ("WARMUP", 0.1),
          ("WARMDOWN", 0.1), ("DIM", 0.1), ("EMBD", 0.1))
FLOAT_STEPS = ((0.5, 0.7, 1.4, 2.0), (0.35, 0.85, 1.2, 3.0))
INT_STEPS = ((-1, 1, -2, 2), (-3, 3))


@dataclass(frozen=True)
class Move:
    """One candidate change: a constant and its new value."""

    constant: Constant
    value: int | float

    @property
    def direction(self) -> int:
        return 1 if self.value > self.constant.value else -1


def _float_values(constant: Constant, steps: tuple[float, ...]) -> list[float]:
    name, value = constant.name, float(constant.value)
    if value == 0.0:
        return [0.05, 0.1, 0.2] if steps is FLOAT_STEPS[0] else [0.02, 0.3]
    if any(n in name for n in NEAR_ONE_NAMES) and 0.5 <= value < 1.0:
        return [round(1 - (1 - value) * f, 6) for f in steps]
    values = [round(value * f, 10) for f in steps]
    if any(n in name for n in PROBABILITY_NAMES) and 0.0 < value <= 1.0:
        values = [min(v, 0.95) for v in values]
    return values


def _int_values(constant: Constant, level: int) -> list[int]:
    value = int(constant.value)
    if value >= 32 or any(n in constant.name for n in POWER_NAMES):
        factors = (2,) if level == 0 else (4,)
        return [v for f in factors for v in (value * f, value // f) if v >= 1]
    floor = 0 if value == 0 else 1
    return [value + step for step in INT_STEPS[level] if value + step >= floor]


def candidate_moves(constants: list[Constant], level: int) -> list[Move]:
    """Every change the search considers at a given boldness level (0 or 1)."""
    moves = []
    for constant in constants:
        if any(skip in constant.name for skip in SKIP) or isinstance(constant.value, bool):
            continue
        if isinstance(constant.value, float):
            # the value as it will be written, so a past proposal is recognised and a no-op is dropped
            values = [float(literal(v)) for v in _float_values(constant, FLOAT_STEPS[level])]
        else:
            values = _int_values(constant, level)
        moves += [Move(constant, v) for v in dict.fromkeys(values) if v != constant.value]
    return moves


def parse_move(edits: list[Edit]) -> tuple[str, int | float, int | float] | None:
    """(name, old, new) when a past proposal changed exactly one constant."""
    if len(edits) != 1:
        return None
    before, after = read_constants(edits[0].search), read_constants(edits[0].replace)
    if len(before) != 1 or len(after) != 1 or before[0].name != after[0].name:
        return None
    return before[0].name, before[0].value, after[0].value


def anchor(source: str, line: str) -> str | None:
    """Search text that matches the constant's line exactly once: the bare line, else the line with its newlines."""
    if source.count(line) == 1:
        return line
    framed = f"\n{line}\n"
    return framed if source.count(framed) == 1 else None


def prior(name: str) -> float:
    """What pretraining experience says matters most within a fixed time budget: the learning rate first."""
    return next((weight for pattern, weight in PRIORS if pattern in name), 0.0)


def score(move: Move, past: list[tuple[str, int, str]], rng: random.Random) -> float:
    """Higher is more promising: important knobs first, directions that helped pushed further, crashes avoided."""
    total = rng.random() + prior(move.constant.name)
    for name, direction, status in past:
        if name != move.constant.name:
            continue
        same = direction == move.direction
        total += {"keep": 2.0 if same else -0.5, "discard": -0.7 if same else 0.2, "crash": -3.0 if same else 0.0}.get(status, 0.0)
    return total


def vram_impact(move: Move) -> str:
    """A plain guess at the memory effect of a move."""
    if any(n in move.constant.name for n in MEMORY_NAMES):
        return f"{'higher' if move.direction > 0 else 'lower'} peak memory (scales with {move.constant.name})"
    return "none expected"


class SearchResearcher:
    """Proposes single-constant changes to train.py, never repeating one from the same base."""

    kind = "search"

    async def propose(self, context: ResearchContext) -> Draft:
        """Pick the most promising untried move from this base."""
        constants = read_constants(context.train_py)
        tried, past = self._tried_and_past(context.history, context.base_commit)
        rng = random.Random(f"{context.campaign}:{context.experiment_id}")
        for level in (0, 1):
            moves = [
                m for m in candidate_moves(constants, level)
                if (m.constant.name, m.value) not in tried and anchor(context.train_py, m.constant.line)
            ]
            if moves:
                best = max(moves, key=lambda m: score(m, past, rng))
                return self._draft(best, past, anchor(context.train_py, best.constant.line) or "")
        raise NoIdea(f"every single-constant change from {context.base_commit[:7]} has been tried")

    @staticmethod
    def _tried_and_past(history: list[ExperimentRecord], base: str) -> tuple[set, list[tuple[str, int, str]]]:
        tried: set[tuple[str, int | float]] = set()
        past: list[tuple[str, int, str]] = []
        for record in history:
            move = parse_move(record.edits)
            if move is None:
                continue
            name, old, new = move
            if record.base_commit == base or record.status == "pending":
                tried.add((name, new))
            if record.status in ("keep", "discard", "crash"):
                past.append((name, 1 if new > old else -1, record.status))
        return tried, past

    @staticmethod
    def _draft(move: Move, past: list[tuple[str, int, str]], search: str) -> Draft:
        name, old = move.constant.name, move.constant.value
        verb = "increase" if move.direction > 0 else "decrease"
        helped = sum(1 for n, d, s in past if n == name and d == move.direction and s == "keep")
        why = f"{verb} {name} ({literal(old)} -> {literal(move.value)}) to probe its effect on val_bpb"
        if helped:
            why += f"; this direction improved val_bpb {helped} time(s) before, so pushing further"
        return Draft(
            description=f"{verb} {name} from {literal(old)} to {literal(move.value)}",
            rationale=why,
            expected_vram_impact=vram_impact(move),
            edits=[Edit(search=search, replace=search.replace(move.constant.line, rewrite(move.constant, move.value)))],
        )
