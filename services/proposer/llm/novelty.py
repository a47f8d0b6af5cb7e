"""No repeats: a proposal is compared with every past experiment by its change and its description."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from services.proposer.records import ExperimentRecord
from shared.edits import Edit

_COMMENT = re.compile(r"\s+#[^'\"]*$")
_WORDS = re.compile(r"[^a-z0-9.]+")


def _line(text: str) -> str:
    """A line of code with comments and spacing differences removed."""
    text = text.strip()
    if text.startswith("#"):
        return ""
    return " ".join(_COMMENT.sub("", text).split())


def change_signature(edits: Sequence[Edit]) -> frozenset[str]:
    """The lines an edit set removes and adds, normalized; equal for the same change written two ways."""
    changed: set[str] = set()
    for edit in edits:
        before = [line for line in map(_line, edit.search.splitlines()) if line]
        after = [line for line in map(_line, edit.replace.splitlines()) if line]
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
            if tag != "equal":
                changed.update("- " + line for line in before[i1:i2])
                changed.update("+ " + line for line in after[j1:j2])
    # A line moved, not changed, appears on both sides; it says nothing about the change.
    return frozenset(c for c in changed if ("+ " if c[0] == "-" else "- ") + c[2:] not in changed)


def normalized_description(text: str) -> str:
    """A description reduced to lowercase words, so wording noise does not hide a repeat."""
    return " ".join(_WORDS.sub(" ", text.lower()).split()).strip(" .")


def find_duplicate(
    description: str, edits: Sequence[Edit], kind: str, history: Sequence[ExperimentRecord],
) -> ExperimentRecord | None:
    """The past experiment this proposal repeats, or None when it is new."""
    signature, wording = change_signature(edits), normalized_description(description)
    for record in history:
        if record.baseline or record.status == "rejected":
            continue  # a rejected proposal never ran; trying it again, correctly written, is no repeat
        if signature and change_signature(record.edits) == signature:
            return record
        # A repair keeps the crashed idea's description on purpose; only its change must differ.
        repairs_it = kind == "repair" and record.status == "crash"
        if wording and not repairs_it and normalized_description(record.description) == wording:
            return record
    return None
