"""The edit contract: a search/replace block on train.py, and the rules an edit list must pass to apply."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

EDITABLE = "train.py"


class Edit(BaseModel):
    """One search/replace block on a workspace file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default=EDITABLE, description="File the edit applies to; only train.py is accepted.")
    search: str = Field(min_length=1, description="Exact text to find; must occur exactly once.")
    replace: str = Field(description="Text that replaces it.")


class EditError(ValueError):
    """Edits cannot be applied; the message is the reason the proposer (or its model) is given."""


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
    return result
