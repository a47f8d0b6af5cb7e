"""The search widens its steps when its moves from a commit run out, and says so only when nothing at all is left."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.proposer.constants import read_constants, rewrite
from services.proposer.moves import CHEAP, candidate_moves
from services.proposer.records import ExperimentRecord
from services.proposer.researcher import Draft, NoIdea, NothingLeft, ResearchContext
from services.proposer.search import SearchResearcher, parse_changes
from shared.edits import Edit, apply_edits

BASE = "a" * 40
TWO = "import os\nLEARNING_RATE = 0.01\nDEPTH = 4\nprint(LEARNING_RATE, DEPTH)\n"
TEMPLATE = Path(__file__).parents[2] / "autoresearch" / "workspace" / "template" / "train.py"


async def propose(train_py: str, history: list[ExperimentRecord], number: int) -> Draft:
    return await SearchResearcher().propose(ResearchContext("c1", f"c1-{number:04d}", BASE, train_py, history))


def record(number: int, draft: Draft, status: str = "discard") -> ExperimentRecord:
    return ExperimentRecord(f"c1-{number:04d}", draft.description, BASE, list(draft.edits), proposer_kind="search",
                            status=status)


async def until_nothing_left(train_py: str, history: list[ExperimentRecord], most: int = 400) -> list[Draft]:
    """Propose from one base, discarding each proposal, until NothingLeft; a bare NoIdea fails the test."""
    drafts = []
    for number in range(len(history) + 1, len(history) + most):
        try:
            draft = await propose(train_py, history, number)
        except NothingLeft:
            return drafts
        drafts.append(draft)
        history.append(record(number, draft))
    raise AssertionError(f"still proposing after {most} tries")


def changes(edits: list[Edit]) -> frozenset:
    return frozenset((name, new) for name, _, new in parse_changes(edits))


def cheap_history() -> list[ExperimentRecord]:
    """Every cheap move from BASE, tried and discarded."""
    history = []
    for number, move in enumerate(candidate_moves(read_constants(TWO), CHEAP), start=1):
        edit = Edit(search=move.constant.line, replace=rewrite(move.constant, move.value))
        history.append(record(number, Draft(f"move {number}", "", "", [edit])))
    return history


async def test_after_every_cheap_move_the_search_goes_on_with_wider_finer_then_paired_moves():
    history = cheap_history()
    cheap = {changes(r.edits) for r in history}
    drafts = await until_nothing_left(TWO, history)
    seen = [changes(d.edits) for d in drafts]
    assert len(set(seen)) == len(seen) and not cheap & set(seen)  # never a repeat, never a cheap move again
    singles = [dict(c)["LEARNING_RATE"] for c in seen if len(c) == 1 and "LEARNING_RATE" in dict(c)]
    assert max(singles) > 3 * 0.01 and min(singles) < 0.35 * 0.01  # wider than the cheap and the bold steps
    assert any(abs(v / 0.01 - 1) <= 0.1 for v in singles)  # and finer than either
    sizes = [len(c) for c in seen]
    assert sizes == sorted(sizes) and sizes.count(2) == 4 * 4  # pairs only after every single, each cheap pair once


async def test_a_pair_is_one_proposal_that_names_and_changes_both_constants():
    drafts = await until_nothing_left(TWO, cheap_history())
    pair = next(d for d in drafts if len(parse_changes(d.edits)) == 2)
    assert "LEARNING_RATE" in pair.description and "DEPTH" in pair.description
    before = {c.name: c.value for c in read_constants(TWO)}
    after = {c.name: c.value for c in read_constants(apply_edits(TWO, pair.edits))}
    assert after["LEARNING_RATE"] != before["LEARNING_RATE"] and after["DEPTH"] != before["DEPTH"]


async def test_the_widened_sequence_is_the_same_every_time():
    first = [d.description for d in await until_nothing_left(TWO, cheap_history())]
    again = [d.description for d in await until_nothing_left(TWO, cheap_history())]
    assert first == again


async def test_nothing_left_for_a_small_int_once_its_few_values_were_tried():
    drafts = await until_nothing_left("import os\nDEPTH = 1\n", [])
    assert sorted(dict(changes(d.edits))["DEPTH"] for d in drafts) == [2, 3, 4, 5, 7]


async def test_nothing_left_when_the_history_holds_every_move_and_every_pair():
    history = cheap_history()
    await until_nothing_left(TWO, history)
    with pytest.raises(NothingLeft, match="nothing left to try from aaaaaaa"):
        await propose(TWO, history, 999)


async def test_an_undecided_change_from_the_same_base_means_not_yet_rather_than_nothing_left():
    history = cheap_history()
    await until_nothing_left(TWO, history)
    history[-1].status = "pending"  # still running: if it is kept, the branch moves on and a new neighbourhood opens
    with pytest.raises(NoIdea) as raised:
        await propose(TWO, history, 999)
    assert not isinstance(raised.value, NothingLeft)
    history[-1].status = "discard"
    with pytest.raises(NothingLeft):
        await propose(TWO, history, 999)


async def test_the_bundled_workspace_keeps_proposing_long_after_its_usual_moves_ran_out():
    train_py = TEMPLATE.read_text()
    history: list[ExperimentRecord] = []
    for number in range(1, 121):  # every proposal discarded: the base never moves and the history grows
        draft = await propose(train_py, history, number)  # a NoIdea here is the ticket that was never answered
        apply_edits(train_py, draft.edits)
        history.append(record(number, draft))
    assert len({changes(r.edits) for r in history}) == 120
