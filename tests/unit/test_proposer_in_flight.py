"""Proposals prepared ahead leave alone what experiments in flight edit: a keep must not make them stale."""

from __future__ import annotations

import asyncio

from services.proposer.llm.prompt import PromptOptions, build_prompt
from services.proposer.records import CampaignRecords, ExperimentRecord
from services.proposer.researcher import ResearchContext
from services.proposer.search import SearchResearcher, parse_changes
from shared.edits import Edit
from shared.events import CommitMade, ProposalCreated, ProposalRejected, VerdictDecided

BASE = "a" * 40
TRAIN_PY = """import time
SEED = 42
DEPTH = 4
LEARNING_RATE = 0.01
WEIGHT_DECAY = 0.1
print("training", SEED, DEPTH, LEARNING_RATE, WEIGHT_DECAY)
"""


def kept_baseline() -> ExperimentRecord:
    return ExperimentRecord("c1-0000", description="baseline", status="keep", val_bpb=1.0, baseline=True, run_status="ok")


def running(number: int, search: str, replace: str, status: str = "pending") -> ExperimentRecord:
    """An experiment proposed from BASE, still undecided unless status says otherwise."""
    return ExperimentRecord(f"c1-{number:04d}", description=f"change {number}", base_commit=BASE, status=status,
                            edits=[Edit(search=search, replace=replace)], proposer_kind="search")


def propose(history: list[ExperimentRecord], experiment: str = "c1-0009"):
    """The search's proposal; a kept rise of LEARNING_RATE in the past makes it the constant to push first."""
    pushed = running(8, "LEARNING_RATE = 0.005", "LEARNING_RATE = 0.01", status="keep")
    context = ResearchContext("c1", experiment, BASE, TRAIN_PY, [*history, pushed])
    return asyncio.run(SearchResearcher().propose(context))


def changed(draft) -> set[str]:
    return {name for name, _, _ in parse_changes(draft.edits)}


def test_search_leaves_alone_a_constant_that_an_experiment_in_flight_edits():
    alone = propose([kept_baseline()])
    assert changed(alone) == {"LEARNING_RATE"}  # what it proposes when nothing is in flight
    draft = propose([kept_baseline(), running(1, "LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02")])
    assert "LEARNING_RATE" not in changed(draft) and changed(draft)


def test_search_is_free_again_once_that_experiment_is_decided():
    draft = propose([kept_baseline(), running(1, "LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02", status="discard")])
    assert changed(draft) == {"LEARNING_RATE"}


def test_search_avoids_a_line_an_in_flight_change_of_code_touches():
    code_change = running(1, 'print("training", SEED, DEPTH, LEARNING_RATE, WEIGHT_DECAY)\nLEARNING_RATE = 0.01',
                          "print('x')")  # not a change of constants: its lines are what it touches
    draft = propose([kept_baseline(), code_change])
    assert "LEARNING_RATE" not in changed(draft)


def test_search_changes_a_busy_constant_when_every_other_is_taken():
    busy = [running(1, "LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02"), running(2, "DEPTH = 4", "DEPTH = 5"),
            running(3, "WEIGHT_DECAY = 0.1", "WEIGHT_DECAY = 0.2")]
    assert changed(propose([kept_baseline(), *busy]))  # a proposal still comes, colliding beats standing still


def test_in_flight_are_proposed_and_undecided_experiments_folded_from_events():
    from services.proposer.records import in_flight

    records = CampaignRecords()
    ids = dict(campaign="c1", producer="test/1")
    for number in (1, 2, 3):
        records.apply(ProposalCreated(**ids, experiment_id=f"c1-{number:04d}", base_commit=BASE, proposer_kind="llm",
                                      description=f"idea {number}", edits=[Edit(search="A", replace="B")]))
    records.apply(CommitMade(**ids, experiment_id="c1-0001", commit="c" * 40, parent=BASE, message="m", diff="d", description="idea 1",
                             lines_added=1, lines_removed=1, bundle="b"))
    records.apply(VerdictDecided(**ids, experiment_id="c1-0002", commit="d" * 40, status="keep", val_bpb=0.9, head="d" * 40))
    records.apply(ProposalRejected(**ids, experiment_id="c1-0003", reason="no longer applies on ddddddd: ..."))
    assert [r.experiment_id for r in in_flight(records.records())] == ["c1-0001"]
    assert in_flight(records.records(), "c1-0001") == []  # an experiment is never in its own way


def test_llm_prompt_lists_experiments_in_flight_with_the_lines_they_edit():
    history = [kept_baseline(), running(1, "LEARNING_RATE = 0.01", "LEARNING_RATE = 0.02"),
               running(2, "DEPTH = 4", "DEPTH = 5", status="discard")]
    text = build_prompt(ResearchContext("c1", "c1-0009", BASE, TRAIN_PY, history), PromptOptions())
    section = text.split("## In flight", 1)[1].split("\n## ", 1)[0]
    assert "c1-0001 (change 1): edits `LEARNING_RATE = 0.01`" in section
    assert "do not repeat them or touch the same lines" in section
    assert "c1-0002" not in section  # decided: no longer in flight


def test_llm_prompt_has_no_in_flight_section_when_nothing_is_in_flight():
    text = build_prompt(ResearchContext("c1", "c1-0009", BASE, TRAIN_PY, [kept_baseline()]), PromptOptions())
    assert "## In flight" not in text
