"""The built-in search proposer: one hyperparameter change at a time, steered by past verdicts."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from services.proposer.constants import Constant, literal, read_constants, rewrite
from services.proposer.moves import CHEAP, LEVELS, Level, Move, candidate_moves, pairs, tunable
from services.proposer.records import ExperimentRecord, in_flight
from services.proposer.researcher import Draft, NoIdea, NothingLeft, ResearchContext
from shared.edits import Edit, EditError, apply_edits
from shared.events import DESCRIPTION_MAX

MEMORY_NAMES = ("DEPTH", "LAYER", "DIM", "EMBD", "WIDTH", "HIDDEN", "BATCH", "SEQ", "HEAD", "MLP", "RATIO_MLP", "TOKENS")
PRIORS = (("LR", 0.4), ("LEARNING_RATE", 0.4), ("BATCH", 0.3), ("DEPTH", 0.25), ("LAYER", 0.25), ("WARMUP", 0.1),
          ("WARMDOWN", 0.1), ("DIM", 0.1), ("EMBD", 0.1))
Change = tuple[str, int | float, int | float]  # a constant's name, its old value and its new one
# What one past verdict adds to a move's score: in the same direction as the move, and in the opposite one.
SAME = {"keep": 2.0, "discard": -0.7, "crash": -3.0}
OPPOSITE = {"keep": -0.5, "discard": 0.2, "crash": 0.0}


def parse_changes(edits: list[Edit]) -> tuple[Change, ...] | None:
    """The constants a past proposal changed, when it changed one or two and every edit holds constants only."""
    return _changes(tuple((edit.search, edit.replace) for edit in edits))


@lru_cache(maxsize=4096)
def _changes(blocks: tuple[tuple[str, str], ...]) -> tuple[Change, ...] | None:
    # Every ticket reads the whole history again; parsing each past edit once keeps that cost flat.
    changes: list[Change] = []
    for search, replace in blocks:
        before, after = read_constants(search), read_constants(replace)
        if not before or [c.name for c in before] != [c.name for c in after]:
            return None
        changes += [(b.name, b.value, a.value) for b, a in zip(before, after) if b.value != a.value]
    names = {name for name, _, _ in changes}
    return tuple(changes) if 1 <= len(changes) <= 2 and len(names) == len(changes) else None


def parse_move(edits: list[Edit]) -> Change | None:
    """(name, old, new) when a past proposal changed exactly one constant."""
    changes = parse_changes(edits)
    return changes[0] if changes is not None and len(changes) == 1 else None


def anchor(source: str, line: str) -> str | None:
    """Search text that matches the constant's line exactly once: the bare line, else the line with its newlines."""
    if source.count(line) == 1:
        return line
    framed = f"\n{line}\n"
    return framed if source.count(framed) == 1 else None


def prior(name: str) -> float:
    """What pretraining experience says matters most within a fixed time budget: the learning rate first."""
    return next((weight for pattern, weight in PRIORS if pattern in name), 0.0)


def score(move: Move, past: Counter[tuple[str, int, str]], rng: random.Random) -> float:
    """Higher is more promising: important knobs first, directions that helped pushed further, crashes avoided."""
    total = rng.random() + prior(move.constant.name)
    for direction, weights in ((move.direction, SAME), (-move.direction, OPPOSITE)):
        total += sum(weight * past[(move.constant.name, direction, status)] for status, weight in weights.items())
    return total


def vram_impact(move: Move) -> str:
    """A plain guess at the memory effect of a move."""
    if any(n in move.constant.name for n in MEMORY_NAMES):
        return f"{'higher' if move.direction > 0 else 'lower'} peak memory (scales with {move.constant.name})"
    return "none expected"


def edits_for(source: str, moves: tuple[Move, ...]) -> list[Edit] | None:
    """One edit per move that applies to source and changes exactly those constants; None when no order does."""
    edits = []
    for move in moves:
        search = anchor(source, move.constant.line)
        if search is None:
            return None
        edits.append(Edit(search=search, replace=search.replace(move.constant.line, rewrite(move.constant, move.value))))
    wanted = {move.constant.name: move.value for move in moves}
    for ordered in (edits, edits[::-1]):  # one new line may contain the other's search text; the other order may not
        try:
            changed = apply_edits(source, ordered)
        except EditError:
            continue
        after = {c.name: c.value for c in read_constants(changed)}
        if all(after.get(name) == value for name, value in wanted.items()):
            return ordered
    return None


@dataclass
class Past:
    """What the history says from one base: the changes tried there, the verdicts per direction, what is undecided."""

    tried: set[frozenset[tuple[str, int | float]]] = field(default_factory=set)
    verdicts: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # (name, direction, status): how often
    undecided: int = 0


def read_past(history: list[ExperimentRecord], base: str, experiment_id: str) -> Past:
    """Fold the history into what the search needs to choose from base."""
    past = Past()
    for record in history:
        here = record.base_commit == base and record.experiment_id != experiment_id
        if here and record.proposed and record.status == "pending":
            past.undecided += 1
        changes = parse_changes(record.edits)
        if changes is None:
            continue
        if here or record.status == "pending":
            past.tried.add(frozenset((name, new) for name, _, new in changes))
        if record.status in ("keep", "discard", "crash"):
            past.verdicts.update((name, 1 if new > old else -1, record.status) for name, old, new in changes)
    return past


def busy_constants(history: list[ExperimentRecord], experiment_id: str, constants: list[Constant]) -> set[str]:
    """Constants an experiment still in flight edits: changing them too would collide if that one is kept."""
    names: set[str] = set()
    lines: set[str] = set()
    for record in in_flight(history, experiment_id):
        names.update(name for name, _, _ in parse_changes(record.edits) or ())
        lines.update(line.strip() for edit in record.edits for line in edit.search.splitlines() if line.strip())
    return names | {c.name for c in constants if c.line.strip() in lines}


class SearchResearcher:
    """Proposes changes of train.py's constants, widening its steps when they run out, never repeating one from a base."""

    kind = "search"

    async def propose(self, context: ResearchContext) -> Draft:
        """Pick the most promising untried change from this base: level by level, then pairs of cheap moves."""
        source = context.train_py
        constants = [c for c in tunable(read_constants(source)) if anchor(source, c.line)]
        busy = busy_constants(context.history, context.experiment_id, constants)
        past = read_past(context.history, context.base_commit, context.experiment_id)
        rng = random.Random(f"{context.campaign}:{context.experiment_id}")
        # A constant that an experiment in flight edits is left alone: if that one is kept, a change of the same
        # line no longer applies and is thrown away. Only when the others are used up is it changed anyway.
        free = [c for c in constants if c.name not in busy]
        for pool in ([free, constants] if busy else [constants]):
            if (draft := self._search(source, pool, past, rng)) is not None:
                return draft
        where = context.base_commit[:7]
        if past.undecided:  # one of them may yet be kept and move the branch on: ask again once they are decided
            raise NoIdea(f"every change from {where} has been tried; {past.undecided} of them still undecided")
        raise NothingLeft(
            f"nothing left to try from {where}: every change of its {len(constants)} tunable constants at "
            f"{len(LEVELS)} step sizes, and every pair of their smallest changes, was tried or does not apply"
        )

    def _search(self, source: str, constants: list[Constant], past: Past, rng: random.Random) -> Draft | None:
        """The best untried change of these constants: level by level, then pairs of cheap moves; None if none is left."""
        for level in LEVELS:
            untried = [m for m in candidate_moves(constants, level) if frozenset([m.key]) not in past.tried]
            scores = {(m,): score(m, past.verdicts, rng) for m in untried}
            if (draft := self._best(source, scores, past, level)) is not None:
                return draft
        cheap = candidate_moves(constants, CHEAP)
        scores = {(m,): score(m, past.verdicts, rng) for m in cheap}
        together = {
            (a, b): scores[(a,)] + scores[(b,)] for a, b in pairs(cheap) if frozenset([a.key, b.key]) not in past.tried
        }
        return self._best(source, together, past, None)

    def _best(self, source: str, scores: dict[tuple[Move, ...], float], past: Past, level: Level | None) -> Draft | None:
        """The draft of the highest-scoring change whose edits apply; the first of equals, so a seed decides."""
        for moves in sorted(scores, key=scores.__getitem__, reverse=True):
            if (edits := edits_for(source, moves)) is not None:
                return self._draft(moves, past, edits, level)
        return None

    @staticmethod
    def _draft(moves: tuple[Move, ...], past: Past, edits: list[Edit], level: Level | None) -> Draft:
        parts, whys = [], []
        for move in moves:
            name, old = move.constant.name, move.constant.value
            verb = "increase" if move.direction > 0 else "decrease"
            parts.append(f"{verb} {name} from {literal(old)} to {literal(move.value)}")
            whys.append(f"{verb} {name} ({literal(old)} -> {literal(move.value)})")
        if level is None:
            why = f"{' and '.join(whys)} together, since each was tried alone from this commit"
        else:
            why = f"{whys[0]} to probe its effect on val_bpb" + (f", with {level.why}" if level.why else "")
        for move in moves:
            helped = past.verdicts[(move.constant.name, move.direction, "keep")]
            if helped:
                why += f"; {move.constant.name} in this direction improved val_bpb {helped} time(s) before, so pushing further"
        impacts = [i for i in map(vram_impact, moves) if i != "none expected"]
        return Draft(
            description=" and ".join(parts)[:DESCRIPTION_MAX], rationale=why,
            expected_vram_impact="; ".join(impacts) or "none expected", edits=edits,
        )
