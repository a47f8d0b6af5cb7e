"""No repeats: the same change or the same description as a past experiment is a duplicate."""

from __future__ import annotations

from services.proposer.records import ExperimentRecord
from services.proposer.llm.novelty import change_signature, find_duplicate
from shared.events import Edit

LR = [Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002")]


def past(status: str, description: str = "raise the learning rate", edits: list[Edit] | None = None) -> ExperimentRecord:
    return ExperimentRecord("c1-0001", description=description, status=status, edits=LR if edits is None else edits)


def test_same_change_written_differently_is_a_duplicate():
    spaced = [Edit(search="x = 1\nLEARNING_RATE  =  0.001   # old\n", replace="x = 1\nLEARNING_RATE = 0.002\n")]
    assert find_duplicate("try a higher LR", spaced, "change", [past("discard")]) is not None


def test_same_description_in_other_words_is_a_duplicate():
    other = [Edit(search="DEPTH = 4", replace="DEPTH = 6")]
    assert find_duplicate("Raise the learning-rate.", other, "change", [past("keep")]) is not None


def test_a_new_change_is_not_a_duplicate():
    other = [Edit(search="DEPTH = 4", replace="DEPTH = 6")]
    assert find_duplicate("deeper model", other, "change", [past("discard"), past("crash")]) is None


def test_experiments_in_flight_count_as_past():
    assert find_duplicate("raise LR", LR, "change", [past("pending")]) is not None


def test_rejected_proposals_may_be_tried_again():
    assert find_duplicate("raise the learning rate", LR, "change", [past("rejected")]) is None


def test_a_repair_may_keep_the_crashed_description_but_not_its_change():
    fixed = [Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002\nGRAD_CLIP = 0.5")]
    crashed = past("crash")
    assert find_duplicate("raise the learning rate", fixed, "repair", [crashed]) is None
    assert find_duplicate("raise the learning rate", LR, "repair", [crashed]) is crashed
    assert find_duplicate("raise the learning rate", fixed, "change", [crashed]) is crashed


def test_moved_lines_are_not_part_of_the_signature():
    moved = [Edit(search="A = 1\nB = 2\n", replace="B = 2\nA = 1\nC = 3\n")]
    assert change_signature(moved) == frozenset({"+ C = 3"})
