"""Event contracts: required fields, one-line descriptions, parsing by type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared import events as events_module
from shared.events import (
    EVENT_CLASSES, EVENT_TYPES, CommitMade, Edit, Event, ProposalCreated, RunFinished, VerdictDecided, parse_event,
)

SHA = "a" * 40
IDS = dict(campaign="nov27", experiment_id="nov27-0001", producer="test/1")


def proposal(description: str = "raise the learning rate") -> ProposalCreated:
    return ProposalCreated(**IDS, base_commit=SHA, description=description,
                           edits=[Edit(search="LR = 1", replace="LR = 2")])


def run_finished(**overrides: object) -> RunFinished:
    now = datetime(2025, 11, 27, tzinfo=UTC)
    fields = dict(**IDS, commit=SHA, status="ok", metrics={"val_bpb": 0.99}, started_at=now, finished_at=now)
    return RunFinished(**{**fields, **overrides})


def test_run_finished_without_a_commit_is_rejected():
    now = datetime(2025, 11, 27, tzinfo=UTC)
    with pytest.raises(ValidationError, match="commit"):
        RunFinished(**IDS, status="ok", started_at=now, finished_at=now)


def test_event_without_a_campaign_is_rejected():
    with pytest.raises(ValidationError, match="campaign"):
        VerdictDecided(experiment_id="x-0001", producer="p", commit=SHA, status="keep", head=SHA)


def test_short_commit_hash_is_rejected():
    with pytest.raises(ValidationError, match="commit"):
        run_finished(commit="abc1234")


def test_unknown_field_is_rejected():
    with pytest.raises(ValidationError, match="surprise"):
        run_finished(surprise=1)


def test_unknown_run_status_is_rejected():
    with pytest.raises(ValidationError, match="status"):
        run_finished(status="exploded")


def test_campaign_with_a_slash_is_rejected():
    with pytest.raises(ValidationError, match="campaign"):
        ProposalCreated(**{**IDS, "campaign": "a/b"}, base_commit=SHA, description="d",
                        edits=[Edit(search="a", replace="b")])


@pytest.mark.parametrize("bad", ["two\tcolumns", "two\nlines", "carriage\rreturn", ""])
def test_description_must_be_one_nonempty_line(bad: str):
    with pytest.raises(ValidationError, match="description"):
        proposal(bad)


def test_one_line_description_is_accepted():
    assert proposal("halve the batch size").description == "halve the batch size"


def test_proposal_without_edits_is_rejected():
    with pytest.raises(ValidationError, match="edits"):
        ProposalCreated(**IDS, base_commit=SHA, description="d", edits=[])


def test_each_event_gets_its_own_id():
    assert proposal().event_id != proposal().event_id


@pytest.mark.parametrize("event", [proposal(), run_finished()], ids=["proposal", "run"])
def test_parse_event_returns_the_model_named_by_type(event):
    parsed = parse_event(event.model_dump_json())
    assert type(parsed) is type(event)
    assert parsed == event


def test_parse_event_accepts_the_matching_subject():
    parsed = parse_event(run_finished().model_dump_json().encode(), "run.finished")
    assert isinstance(parsed, RunFinished)
    assert parsed.metrics == {"val_bpb": 0.99}


def test_event_on_the_wrong_subject_is_an_error():
    with pytest.raises(ValueError, match="arrived on subject 'commit.made'"):
        parse_event(run_finished().model_dump_json(), "commit.made")


@pytest.mark.parametrize("raw", [b"not json at all", b"{", b"[]", b'{"type": "run.finished"}', b'{"type": "no.such"}'])
def test_garbage_is_an_error(raw: bytes):
    with pytest.raises(ValidationError):
        parse_event(raw)


def test_each_event_class_publishes_on_the_subject_named_by_its_type():
    assert EVENT_TYPES["commit.made"] is CommitMade
    for cls in EVENT_CLASSES:
        assert cls.subject == cls.model_fields["type"].default, cls.__name__
    assert proposal().type == ProposalCreated.subject == "proposal.created"
    assert run_finished().type == RunFinished.subject


def test_every_event_class_of_the_module_is_registered_once():
    defined = {cls for cls in vars(events_module).values() if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event}
    assert set(EVENT_CLASSES) == defined
    assert len(EVENT_TYPES) == len(EVENT_CLASSES)  # no two classes share a subject
