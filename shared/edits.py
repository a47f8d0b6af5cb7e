"""The edit contract: a search/replace block on train.py, and the rules an edit list must pass to apply."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

EDITABLE = "train.py"
# One proposal carries at most this many characters of search and replace text, all edits together: a
# whole-file rewrite of a 150,000-character train.py fits (the LLM proposer accepts 120,000 by default),
# and a proposal at the limit still travels well inside NATS's 1 MB payload.
EDIT_TEXT_MAX = 300_000
EDITS_MAX = 100
PATH_MAX = 256


class Edit(BaseModel):
    """One search/replace block on a workspace file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default=EDITABLE, max_length=PATH_MAX, description="File the edit applies to; only train.py is accepted.")
    search: str = Field(min_length=1, max_length=EDIT_TEXT_MAX, description="Exact text to find; must occur exactly once.")
    replace: str = Field(max_length=EDIT_TEXT_MAX, description="Text that replaces it.")


class EditError(ValueError):
    """Edits cannot be applied; the message is the reason the proposer (or its model) is given."""


def within_edit_budget(edits: list[Edit]) -> list[Edit]:
    """The edits, when their search and replace texts together fit EDIT_TEXT_MAX; ValueError otherwise."""
    size = sum(len(edit.search) + len(edit.replace) for edit in edits)
    if size > EDIT_TEXT_MAX:
        raise ValueError(f"the edits hold {size} characters of text, over the limit of {EDIT_TEXT_MAX}")
    return edits


def editable_path(path: str) -> str:
    """EDITABLE when path names it (``./train.py`` too); EditError for any other file."""
    if path.removeprefix("./") != EDITABLE:  # not lstrip("./"), which would let ../train.py through
        raise EditError(f"only {EDITABLE} may change, not {path!r}")
    return EDITABLE


def apply_edits(source: str, edits: Sequence[Edit]) -> str:
    """Apply each edit in order; every search must match exactly once and the result must differ and compile."""
    result = source
    for number, edit in enumerate(edits, start=1):
        try:
            editable_path(edit.path)
        except EditError as exc:
            raise EditError(f"edit {number}: {exc}") from None
        count = result.count(edit.search)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise EditError(
                f"edit {number}: the search text {where} in {EDITABLE}; it must be copied exactly "
                f"(whitespace included) and match exactly once: {edit.search[:200]!r}"
            )
        result = result.replace(edit.search, edit.replace, 1)
    if result == source:
        raise EditError(f"the edits leave {EDITABLE} unchanged")
    try:
        compile(result, EDITABLE, "exec")
    except SyntaxError as exc:
        raise EditError(f"{EDITABLE} does not compile after the edits: line {exc.lineno}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:  # nesting too deep for the compiler, whatever the retry
        raise EditError(f"{EDITABLE} does not compile after the edits: {type(exc).__name__} {exc}".rstrip()) from None
    return result
