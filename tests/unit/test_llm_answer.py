"""Reading the model's answer: JSON in fences or prose, validation, and edits that will apply."""

from __future__ import annotations

import json

import pytest

from services.proposer.llm.answer import (
    ANSWER_MAX, DECODE_ATTEMPTS, ECHO_MAX, Answer, AnswerError, EditAnswer, echo, parse_answer, to_edits,
)
from shared.edits import EDIT_TEXT_MAX

TRAIN_PY = "DEPTH = 4\nLEARNING_RATE = 0.001\nprint('training')\n"
ANSWER = {
    "description": "raise the learning rate",
    "rationale": "loss still falls steeply at the end",
    "expected_vram_impact": "none",
    "edits": [{"search": "LEARNING_RATE = 0.001", "replace": "LEARNING_RATE = 0.002"}],
}


def test_bare_json_is_read():
    assert parse_answer(json.dumps(ANSWER)).description == "raise the learning rate"


def test_fenced_json_after_a_python_block_is_read():
    text = (
        "Here is the idea.\n```python\nconfig = {'lr': 1}\n```\nAnd the answer:\n"
        f"```json\n{json.dumps(ANSWER, indent=2)}\n```\nGood luck."
    )
    assert parse_answer(text).edits[0].replace == "LEARNING_RATE = 0.002"


def test_json_wrapped_in_prose_is_read_past_stray_braces():
    text = f"I considered {{x}} and a set {{1, 2}}. My proposal: {json.dumps(ANSWER)} That is all."
    assert parse_answer(text).rationale == "loss still falls steeply at the end"


def test_description_is_folded_onto_one_line():
    answer = parse_answer(json.dumps({**ANSWER, "description": "raise\tthe\nlearning rate"}))
    assert answer.description == "raise the learning rate"


def test_text_without_json_is_an_error():
    with pytest.raises(AnswerError, match="no JSON object"):
        parse_answer("I would raise the learning rate.")


@pytest.mark.parametrize("change", [
    {"edits": None},
    {"train_py": "DEPTH = 5\n"},
    {"description": ""},
    {"description": " \n\t "},
    {"edits": [{"search": "x", "replace": "y", "path": "prepare.py"}]},
    {"edits": [{"search": "x", "replace": "y", "path": "../train.py"}]},
])
def test_answers_off_the_format_name_the_problem(change):
    with pytest.raises(AnswerError, match="does not match the format"):
        parse_answer(json.dumps({**ANSWER, **change}))


def test_whole_file_becomes_one_edit_on_the_whole_current_file():
    new = TRAIN_PY.replace("DEPTH = 4", "DEPTH = 6")
    answer = parse_answer(json.dumps({**ANSWER, "edits": None, "train_py": new}))
    edits = to_edits(answer, TRAIN_PY, max_file_chars=10_000)
    assert [(e.search, e.replace) for e in edits] == [(TRAIN_PY, new)]


def test_whole_file_over_the_limit_is_refused():
    answer = parse_answer(json.dumps({**ANSWER, "edits": None, "train_py": "X = 1\n" * 500}))
    with pytest.raises(AnswerError, match="over the limit"):
        to_edits(answer, TRAIN_PY, max_file_chars=1000)


@pytest.mark.parametrize(("search", "replace", "problem"), [
    ("LEARNING_RATE = 0.1", "LEARNING_RATE = 0.2", "does not occur"),
    ("'", '"', "occurs 2 times"),
    ("DEPTH = 4", "DEPTH = 4", "unchanged"),
    ("DEPTH = 4", "DEPTH = (", "does not compile"),
])
def test_edits_that_the_editor_would_refuse_are_errors(search, replace, problem):
    answer = parse_answer(json.dumps({**ANSWER, "edits": [{"search": search, "replace": replace}]}))
    with pytest.raises(AnswerError, match=problem):
        to_edits(answer, TRAIN_PY, max_file_chars=10_000)


def test_edits_over_the_proposal_budget_are_refused_when_the_answer_is_read():
    # Ten megabytes of edits, each block under the limit of one field: only their sum is over the budget.
    blocks = [{"search": "LEARNING_RATE = 0.001", "replace": f"LEARNING_RATE = 0.002  # {'x' * 250_000}"}] * 40
    answer = Answer.model_construct(description="pad", edits=[EditAnswer.model_construct(path="train.py", **b) for b in blocks],
                                    train_py=None, kind="change")
    with pytest.raises(AnswerError, match=f"over the limit of {EDIT_TEXT_MAX}; propose a smaller change"):
        to_edits(answer, TRAIN_PY, max_file_chars=10_000)


def test_a_whole_file_rewrite_counts_the_current_file_against_the_budget():
    current = "X = 1\n" * 30_000  # 180,000 characters that the single edit's search must carry
    answer = parse_answer(json.dumps({**ANSWER, "edits": None, "train_py": "X = 2\n" * 25_000}))
    with pytest.raises(AnswerError, match="330000 characters of text, over the limit"):
        to_edits(answer, current, max_file_chars=200_000)


def test_an_answer_over_the_size_limit_is_refused_unread():
    text = json.dumps({**ANSWER, "rationale": "y" * (ANSWER_MAX + 1)})
    with pytest.raises(AnswerError, match=f"characters long, over the limit of {ANSWER_MAX}"):
        parse_answer(text)


def test_nesting_deeper_than_the_decoder_goes_is_an_answer_error():
    with pytest.raises(AnswerError, match="no JSON object"):
        parse_answer('{"a": ' * 5_000)


def test_a_text_of_braces_costs_a_bounded_number_of_decodes(monkeypatch):
    calls = []
    decode = json.JSONDecoder.raw_decode
    monkeypatch.setattr(json.JSONDecoder, "raw_decode", lambda self, s, idx=0: calls.append(idx) or decode(self, s, idx))
    with pytest.raises(AnswerError, match="no JSON object"):
        parse_answer("{" * 20_000)
    assert len(calls) <= DECODE_ATTEMPTS  # a decode that fails costs time in proportion to where it starts


def test_a_long_answer_is_quoted_back_by_its_beginning_only():
    assert echo("short answer") == "short answer"
    quoted = echo("z" * 1_000_000)
    assert quoted.startswith("z" * ECHO_MAX) and len(quoted) < ECHO_MAX + 100
    assert "996000 more characters of this answer, not repeated here" in quoted
