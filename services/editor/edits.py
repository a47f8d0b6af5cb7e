"""Applying a proposal's search/replace edits to train.py, and refusing broken ones."""

from __future__ import annotations

from collections.abc import Sequence

from shared.events import Edit

EDITABLE = "train.py"


class EditError(Exception):
    """A proposal cannot be applied; the message is the reason sent back to the proposer."""


def apply_edits(source: str, edits: Sequence[Edit]) -> str:
    """Apply each edit in order; every search must match exactly once and the result must compile."""
    result = source
    for number, edit in enumerate(edits, start=1):
        if edit.path.removeprefix("./") != EDITABLE:  # not lstrip, which lets ../train.py pass
            raise EditError(f"edit {number} touches {edit.path!r}; only {EDITABLE} may change")
        count = result.count(edit.search)
        if count != 1:
            where = "does not occur" if count == 0 else f"occurs {count} times"
            raise EditError(f"edit {number}: search text {where} in {EDITABLE} (it must match exactly once): {edit.search[:120]!r}")
        result = result.replace(edit.search, edit.replace, 1)
    if result == source:
        raise EditError("the edits leave train.py unchanged")
    try:
        compile(result, EDITABLE, "exec")
    except SyntaxError as exc:
        raise EditError(f"{EDITABLE} does not compile after the edits: line {exc.lineno}: {exc.msg}") from None
    return result
