"""Text from models and runs made safe to show: no control characters reach a terminal, a table or a TSV cell."""

from __future__ import annotations

import re

# Whole terminal sequences first (CSI such as colours and cursor moves, OSC such as window titles and links),
# so that no "[31m" is left behind; then every C0 and C1 control character and DEL, and the invisible marks
# that reorder text on screen (bidirectional overrides and isolates), which make a line read other than it is.
_SEQUENCES = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROLS_AND_NEWLINES = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str, keep_newlines: bool = False) -> str:
    """text without terminal sequences or control characters; tabs become spaces, newlines too unless kept."""
    text = _SEQUENCES.sub("", text).replace("\t", " ")
    if keep_newlines:
        return _CONTROLS.sub("", text.replace("\r\n", "\n"))
    return _CONTROLS_AND_NEWLINES.sub(lambda match: " " if match.group() in "\n\r" else "", text)
