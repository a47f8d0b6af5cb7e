"""Reading the model's answer: one JSON object, validated, turned into edits that will apply."""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shared.edits import (
    EDIT_TEXT_MAX, EDITABLE, EDITS_MAX, Edit, EditError, apply_edits, editable_path, within_edit_budget,
)

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
# The longest answer read: edits at their budget, escaped inside JSON strings, with room for the prose around
# them. Anything longer is refused unread, so no parse, no retry prompt and no event ever holds it.
ANSWER_MAX = 2 * EDIT_TEXT_MAX
ECHO_MAX = 4_000  # characters of an unusable answer quoted back to the model; the rest is never resent
# A failed decode costs time in proportion to where it starts (the error locates its line), so a text of
# braces would take minutes; an answer's object is among the first few a text offers.
DECODE_ATTEMPTS = 200
PROBLEMS_SHOWN = 10


class AnswerError(Exception):
    """The answer cannot be used; the message is what the model is told to fix."""


class EditAnswer(BaseModel):
    """One search/replace block as the model writes it."""

    model_config = ConfigDict(extra="ignore")

    search: str = Field(min_length=1)
    replace: str
    path: str = EDITABLE

    @field_validator("path")
    @classmethod
    def _only_train_py(cls, value: str) -> str:
        return editable_path(value)


class Answer(BaseModel):
    """The structured answer: what, why, memory, and the change itself."""

    model_config = ConfigDict(extra="ignore")

    description: str = Field(min_length=1, max_length=200)
    rationale: str = ""
    expected_vram_impact: str = "unknown"
    kind: Literal["change", "repair"] = "change"
    edits: list[EditAnswer] | None = Field(default=None, max_length=EDITS_MAX)
    train_py: str | None = None

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        folded = " ".join(value.split())  # results.tsv needs one line without tabs
        if not folded:
            raise ValueError("the description is blank")
        return folded

    @field_validator("expected_vram_impact", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        if value is None:
            return "unknown"
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _one_way_to_change(self) -> Answer:
        if bool(self.edits) == bool(self.train_py):
            raise ValueError("give either a non-empty 'edits' list or 'train_py', exactly one of them")
        return self


def _objects(text: str) -> list[dict]:
    """The JSON objects that decode at some '{' of the text, outermost first, within DECODE_ATTEMPTS failures."""
    decoder, found, start, failures = json.JSONDecoder(), [], text.find("{"), 0
    while start != -1 and failures < DECODE_ATTEMPTS:
        try:
            value, end = decoder.raw_decode(text, start)
        except (json.JSONDecodeError, RecursionError):  # RecursionError: nesting deeper than the decoder goes
            value, end, failures = None, start + 1, failures + 1
        if isinstance(value, dict):
            found.append(value)
        start = text.find("{", end if isinstance(value, dict) else start + 1)
    return found


def extract_json(text: str) -> dict:
    """The answer's JSON object: fenced in ```json, bare, or wrapped in prose."""
    # Fenced blocks come first; among all objects, one that looks like an answer wins over stray dict literals.
    objects = [obj for block in _FENCE.findall(text) for obj in _objects(block)] + _objects(text)
    if not objects:
        raise AnswerError("no JSON object found in the answer")
    return next((obj for obj in objects if "description" in obj), objects[0])


def echo(text: str) -> str:
    """The answer as it may be quoted back to the model: whole when short, else its first ECHO_MAX characters."""
    if len(text) <= ECHO_MAX:
        return text
    return f"{text[:ECHO_MAX]}\n[... {len(text) - ECHO_MAX} more characters of this answer, not repeated here]"


def parse_answer(text: str) -> Answer:
    """Validate the answer text into an Answer, or say precisely what is wrong."""
    if len(text) > ANSWER_MAX:
        raise AnswerError(f"the answer is {len(text)} characters long, over the limit of {ANSWER_MAX}; answer more briefly")
    data = extract_json(text)
    try:
        return Answer.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in errors[:PROBLEMS_SHOWN])
        more = f"; and {len(errors) - PROBLEMS_SHOWN} more" if len(errors) > PROBLEMS_SHOWN else ""
        raise AnswerError(f"the JSON object does not match the format: {problems}{more}") from None


def to_edits(answer: Answer, train_py: str, max_file_chars: int) -> list[Edit]:
    """The answer as edits on train.py that fit a proposal and apply, or AnswerError with the reason."""
    if answer.train_py is not None:
        if len(answer.train_py) > max_file_chars:
            raise AnswerError(f"train_py is {len(answer.train_py)} characters, over the limit of {max_file_chars}; use edits")
        # The whole current file occurs exactly once in itself, so it applies as one edit.
        blocks = [(EDITABLE, train_py, answer.train_py)]
    else:
        blocks = [(e.path, e.search, e.replace) for e in answer.edits or []]
    # The proposal's own bound, checked before anything is built or applied: an answer over it is sent back
    # now, with the reason, rather than found out when the proposal is published.
    unchecked = [Edit.model_construct(path=path, search=search, replace=replace) for path, search, replace in blocks]
    try:
        within_edit_budget(unchecked)
    except ValueError as exc:
        raise AnswerError(f"{exc}; propose a smaller change") from None
    edits = [Edit(path=path, search=search, replace=replace) for path, search, replace in blocks]
    try:
        apply_edits(train_py, edits)
    except EditError as exc:
        raise AnswerError(str(exc)) from None
    return edits
