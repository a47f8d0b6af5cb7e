"""Reading train.py's constants, and the search proposer that changes one of them at a time."""

from __future__ import annotations

import pytest

from services.proposer.constants import literal, read_constants, rewrite
from services.proposer.records import ExperimentRecord
from services.proposer.researcher import Draft, NoIdea, NothingLeft, ResearchContext
from services.proposer.search import SearchResearcher, parse_changes, parse_move
from shared.edits import Edit, apply_edits

BASE, NEW_BASE = "a" * 40, "b" * 40
CONSTANTS_PY = """import math
DEPTH = 8
LEARNING_RATE = 0.04  # tuned on an H100
TOTAL_BATCH_SIZE = 2**19
WEIGHT_DECAY = -0.5
WARMUP_STEPS = 10 * 3
lower_case = 3
BETAS = (0.9, 0.95)
WINDOW = (
    128
)
FLAG = True
NAME = "gpt"
A = B = 4
TYPED: int = 5
BROKEN = 1 / 0


def inner():
    INSIDE = 7
"""
TRAIN_PY = """import time
SEED = 42
TIME_BUDGET = 300
DEPTH = 4
LEARNING_RATE = 0.01
WEIGHT_DECAY = 0.1
print("training", SEED, DEPTH, LEARNING_RATE, WEIGHT_DECAY)
"""


def values(source: str) -> dict[str, int | float]:
    return {c.name: c.value for c in read_constants(source)}


# read_constants and rewrite

def test_reads_single_line_numeric_upper_case_constants_in_order():
    found = read_constants(CONSTANTS_PY)
    assert [c.name for c in found] == ["DEPTH", "LEARNING_RATE", "TOTAL_BATCH_SIZE", "WEIGHT_DECAY", "WARMUP_STEPS"]


def test_reads_ints_floats_powers_negatives_and_arithmetic():
    assert values(CONSTANTS_PY) == {"DEPTH": 8, "LEARNING_RATE": 0.04, "TOTAL_BATCH_SIZE": 524288,
                                    "WEIGHT_DECAY": -0.5, "WARMUP_STEPS": 30}
    assert isinstance(values(CONSTANTS_PY)["DEPTH"], int)


def test_constant_keeps_its_line_and_value_columns():
    lr = read_constants(CONSTANTS_PY)[1]
    assert lr.line == "LEARNING_RATE = 0.04  # tuned on an H100"
    assert lr.line[lr.start:lr.end] == "0.04"


def test_source_that_does_not_parse_has_no_constants():
    assert read_constants("DEPTH = 4\ndef broken(:\n") == []


def test_rewrite_keeps_the_comment():
    lr = read_constants(CONSTANTS_PY)[1]
    assert rewrite(lr, 0.08) == "LEARNING_RATE = 0.08  # tuned on an H100"


def test_rewrite_replaces_a_whole_power_expression():
    batch = read_constants(CONSTANTS_PY)[2]
    assert rewrite(batch, 2**20) == "TOTAL_BATCH_SIZE = 1048576"


@pytest.mark.parametrize(("value", "text"), [(3, "3"), (3.0, "3.0"), (0.1, "0.1"), (1e-5, "1e-05"), (0.012345, "0.01235")])
def test_literal_is_short_and_keeps_the_type(value: int | float, text: str):
    assert literal(value) == text


def test_parse_move_reads_one_changed_constant():
    assert parse_move([Edit(search="DEPTH = 4", replace="DEPTH = 6")]) == ("DEPTH", 4, 6)
    assert parse_move([Edit(search="x = 1", replace="x = 2")]) is None
    assert parse_move([Edit(search="DEPTH = 4", replace="WIDTH = 4")]) is None


def test_parse_changes_reads_a_pair_in_one_edit_or_in_two():
    two = [Edit(search="DEPTH = 4", replace="DEPTH = 6"), Edit(search="LR = 0.1", replace="LR = 0.2")]
    one = [Edit(search="DEPTH = 4\nLR = 0.1", replace="DEPTH = 6\nLR = 0.2")]
    assert parse_changes(two) == parse_changes(one) == (("DEPTH", 4, 6), ("LR", 0.1, 0.2))
    assert parse_move(two) is None  # a pair is not a single move
    assert parse_changes([Edit(search="DEPTH = 4", replace="DEPTH = 6"), Edit(search="DEPTH = 6", replace="DEPTH = 7")]) is None
    assert parse_changes([Edit(search="A = 1\nB = 2\nC = 3", replace="A = 2\nB = 3\nC = 4")]) is None


# SearchResearcher

async def propose(train_py: str, history: list[ExperimentRecord], number: int = 1, base: str = BASE) -> Draft:
    context = ResearchContext("c1", f"c1-{number:04d}", base, train_py, history)
    return await SearchResearcher().propose(context)


def record(number: int, draft: Draft, status: str, base: str = BASE) -> ExperimentRecord:
    return ExperimentRecord(f"c1-{number:04d}", draft.description, base, list(draft.edits), status=status)


async def every_proposal(train_py: str, status: str = "discard", most: int = 400) -> list[Draft]:
    """Propose again and again from one base, feeding each proposal back, until NoIdea (or NothingLeft)."""
    drafts: list[Draft] = []
    history: list[ExperimentRecord] = []
    for number in range(1, most):
        try:
            draft = await propose(train_py, history, number)
        except NoIdea:
            return drafts
        drafts.append(draft)
        history.append(record(number, draft, status))
    raise AssertionError(f"still proposing after {most} tries")


async def test_proposal_is_one_edit_whose_search_matches_exactly_once():
    draft = await propose(TRAIN_PY, [])
    [edit] = draft.edits
    assert TRAIN_PY.count(edit.search) == 1
    changed = apply_edits(TRAIN_PY, draft.edits)
    before, after = values(TRAIN_PY), values(changed)
    assert sum(before[name] != after[name] for name in before) == 1
    assert draft.description.split()[0] in ("increase", "decrease")


async def test_line_that_is_also_the_end_of_another_line_is_anchored_with_its_newlines():
    train_py = "import os\nKV_N_HEAD = 4\nN_HEAD = 4\nprint(N_HEAD)\n"
    drafts = await every_proposal(train_py)
    assert any("N_HEAD" in d.description and "KV_N_HEAD" not in d.description for d in drafts)
    for draft in drafts:
        assert train_py.count(draft.edits[0].search) == 1
        apply_edits(train_py, draft.edits)


@pytest.mark.parametrize("status", ["pending", "discard", "rejected"])
async def test_never_proposes_a_change_already_tried_from_the_same_base(status: str):
    drafts = await every_proposal(TRAIN_PY, status)
    changes = [frozenset(parse_changes(d.edits)) for d in drafts]
    assert len(changes) >= 10
    assert len(set(changes)) == len(changes)


async def test_rounded_float_proposals_are_recognised_as_tried():
    drafts = await every_proposal("import os\nLEARNING_RATE = 0.02744\n")
    changes = [parse_move(d.edits) for d in drafts]
    assert len(set(changes)) == len(changes)
    assert all(old != new for _, old, new in changes)


async def test_pending_change_from_another_base_is_not_proposed_again():
    first = await propose(TRAIN_PY, [])
    history = [record(1, first, "pending", base=NEW_BASE)]
    for number in range(2, 30):
        draft = await propose(TRAIN_PY, history, number)
        assert parse_move(draft.edits) != parse_move(first.edits)


async def test_settled_change_from_another_base_may_be_tried_again():
    drafts = await every_proposal(TRAIN_PY)
    here = [record(n, d, "discard", base=BASE) for n, d in enumerate(drafts, start=1)]
    elsewhere = [record(n, d, "discard", base=NEW_BASE) for n, d in enumerate(drafts, start=1)]
    with pytest.raises(NoIdea):  # every move was settled from this very base
        await propose(TRAIN_PY, here, len(drafts) + 1)
    draft = await propose(TRAIN_PY, elsewhere, len(drafts) + 1)
    assert parse_move(draft.edits) is not None


async def test_skips_seed_and_time_budget():
    drafts = await every_proposal(TRAIN_PY)
    names = {name for d in drafts for name, _, _ in parse_changes(d.edits)}
    assert names == {"DEPTH", "LEARNING_RATE", "WEIGHT_DECAY"}


@pytest.mark.parametrize("number", range(1, 21))
async def test_after_a_keep_that_increased_a_constant_the_next_proposal_pushes_it_further(number: int):
    kept = ExperimentRecord("c1-0000", "increase DEPTH from 4 to 5", BASE,
                            [Edit(search="DEPTH = 4", replace="DEPTH = 5")], status="keep")
    new_train_py = TRAIN_PY.replace("DEPTH = 4", "DEPTH = 5")
    draft = await propose(new_train_py, [kept], number, base=NEW_BASE)
    name, old, new = parse_move(draft.edits)
    assert (name, old) == ("DEPTH", 5) and new > old
    assert "pushing further" in draft.rationale


@pytest.mark.parametrize("number", range(1, 21))
async def test_direction_that_crashed_is_avoided(number: int):
    crashed = ExperimentRecord("c1-0000", "increase LEARNING_RATE", BASE,
                               [Edit(search="LEARNING_RATE = 0.01", replace="LEARNING_RATE = 0.02")], status="crash")
    draft = await propose(TRAIN_PY, [crashed], number, base=NEW_BASE)
    name, old, new = parse_move(draft.edits)
    assert not (name == "LEARNING_RATE" and new > old)


async def test_nothing_left_when_every_change_was_tried():
    drafts = await every_proposal("import os\nDEPTH = 4\n")
    history = [record(n, d, "discard") for n, d in enumerate(drafts, start=1)]
    with pytest.raises(NothingLeft, match="nothing left to try from aaaaaaa"):
        await propose("import os\nDEPTH = 4\n", history, 99)


async def test_nothing_left_when_only_skipped_constants_exist():
    with pytest.raises(NothingLeft):
        await propose("SEED = 1\nTIME_BUDGET = 300\nprint(SEED)\n", [])


async def test_learning_rate_is_tried_first_more_often_than_weight_decay():
    firsts = [parse_move((await propose(TRAIN_PY, [], number=n)).edits)[0] for n in range(1, 41)]
    assert firsts.count("LEARNING_RATE") > firsts.count("WEIGHT_DECAY")
    assert firsts.count("LEARNING_RATE") > firsts.count("DEPTH") > 0


async def test_a_change_re_applied_on_a_newer_tip_counts_as_tried_from_that_tip():
    from services.proposer.records import fold_records
    from shared.events import CommitMade, ProposalCreated

    old_base, new_base = "0" * 40, BASE
    draft = await propose(TRAIN_PY, [], number=1, base=old_base)
    ids = dict(campaign="c1", experiment_id="c1-0001", producer="test/1")
    events = [
        ProposalCreated(**ids, base_commit=old_base, description=draft.description, edits=draft.edits),
        CommitMade(**ids, commit="c" * 40, parent=new_base, message="m", description=draft.description, diff="",
                   lines_added=1, lines_removed=1, bundle="b", rebased_from="d" * 40),
    ]
    history = fold_records(events)
    assert history[0].base_commit == new_base
    for number in range(2, 30):
        again = await propose(TRAIN_PY, history, number=number, base=new_base)
        assert again.edits != draft.edits
