"""The search space of the built-in search: which new values it tries for each constant, level after level."""

from __future__ import annotations

from dataclasses import dataclass

from services.proposer.constants import Constant, literal

SKIP = ("SEED", "TIME_BUDGET", "EVAL", "VOCAB", "MAX_SEQ_LEN")
POWER_NAMES = ("BATCH", "DIM", "EMBD", "WIDTH", "HIDDEN", "SIZE", "TOKENS", "SEQ")
PROBABILITY_NAMES = ("RATIO", "FRAC", "DROPOUT")
NEAR_ONE_NAMES = ("BETA", "MOMENTUM", "EMA")
# Finer levels halve the multiplicative distance to 1 (±10 %, ±5 %, ...) and stop below this: closer than
# about 1 % a change drowns in the run-to-run noise of val_bpb.
FINEST = 0.01


@dataclass(frozen=True)
class Level:
    """One ring of the search: how far each kind of constant moves from its value."""

    name: str
    factors: tuple[float, ...]  # floats are multiplied by these (near-one values: their distance to 1 is)
    steps: tuple[int, ...] = ()  # small ints move by these
    powers: tuple[int, ...] = ()  # large or power-of-two ints are multiplied and divided by these
    zero: tuple[float, ...] = ()  # values for a float that is 0.0, which no factor moves
    scale_ints: bool = False  # ints are scaled by the factors and rounded, as floats are
    why: str = ""  # what the rationale says about a move of this level


def _finer(distance: float) -> Level:
    why = f"a finer step (±{distance * 100:.3g}%), since the coarser steps from this commit were all tried"
    return Level(f"finer ±{distance * 100:.3g}%", (1 - distance, 1 + distance), scale_ints=True, why=why)


CHEAP = Level("cheap", (0.5, 0.7, 1.4, 2.0), (-1, 1, -2, 2), (2,), (0.05, 0.1, 0.2))
BOLD = Level("bold", (0.35, 0.85, 1.2, 3.0), (-3, 3), (4,), (0.02, 0.3))
WIDE = Level("wide", (0.2, 5.0), (-4, 4), (8,), (0.01, 0.5), why="a wider step, since the usual ones were all tried")
WIDEST = Level("widest", (0.1, 10.0), (-6, 6), (16,), (0.005, 1.0), why="the widest step, since narrower ones were all tried")
FINER = tuple(_finer(0.1 / 2**k) for k in range(8) if 0.1 / 2**k >= FINEST)
# Cheap moves first, then wider and finer steps in turn; pairs of cheap moves come after every level.
LEVELS = (CHEAP, BOLD, WIDE, FINER[0], WIDEST, *FINER[1:])


@dataclass(frozen=True)
class Move:
    """One candidate change: a constant and its new value."""

    constant: Constant
    value: int | float

    @property
    def direction(self) -> int:
        return 1 if self.value > self.constant.value else -1

    @property
    def key(self) -> tuple[str, int | float]:
        return self.constant.name, self.value


def tunable(constants: list[Constant]) -> list[Constant]:
    """The constants the search may change: numbers, not flags, and none of the fixed settings."""
    return [c for c in constants if not any(skip in c.name for skip in SKIP) and not isinstance(c.value, bool)]


def _float_values(constant: Constant, level: Level) -> list[float]:
    name, value = constant.name, float(constant.value)
    if value == 0.0:
        return list(level.zero)
    if any(n in name for n in NEAR_ONE_NAMES) and 0.5 <= value < 1.0:
        # a momentum stays below 1 and above 0: scale its distance to 1, not the value
        return [v for f in level.factors if 0.0 < (v := round(1 - (1 - value) * f, 6)) < 1.0]
    values = [round(value * f, 10) for f in level.factors]
    if any(n in name for n in PROBABILITY_NAMES) and 0.0 < value <= 1.0:
        values = [min(v, 0.95) for v in values]
    return values


def _int_values(constant: Constant, level: Level) -> list[int]:
    value = int(constant.value)
    floor = 0 if value == 0 else 1
    if level.scale_ints:
        return [v for f in level.factors if (v := round(value * f)) >= floor]
    if value >= 32 or any(n in constant.name for n in POWER_NAMES):
        return [v for f in level.powers for v in (value * f, value // f) if v >= 1]
    return [value + step for step in level.steps if value + step >= floor]


def candidate_moves(constants: list[Constant], level: Level) -> list[Move]:
    """Every change of one tunable constant that the search considers at a level, in file order."""
    moves = []
    for constant in tunable(constants):
        if isinstance(constant.value, float):
            # the value as it will be written, so a past proposal is recognised and a no-op is dropped
            values = [float(literal(v)) for v in _float_values(constant, level)]
        else:
            values = _int_values(constant, level)
        moves += [Move(constant, v) for v in dict.fromkeys(values) if v != constant.value]
    return moves


def pairs(moves: list[Move]) -> list[tuple[Move, Move]]:
    """Every two moves of two different constants, in file order."""
    return [(a, b) for i, a in enumerate(moves) for b in moves[i + 1:] if a.constant.name != b.constant.name]
