"""What a check reports: one Finding per thing it looked at, ok or not, with the command that fixes it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.text import printable

if TYPE_CHECKING:
    from autoresearch.doctor.setup import Setup


@dataclass(frozen=True)
class Finding:
    """One result: the check's name, whether it passed, what was found or what is wrong, and the fix."""

    check: str
    ok: bool
    message: str
    fix: str | None = None  # the command (or step) that makes a failed check pass
    notice: bool = False  # passed, but worth saying where only failures are shown (`up`): work that will take time

    def line(self) -> str:
        """The finding as one line: `ok    name: message`, or `FAIL  name: message; fix: ...`."""
        status = "ok  " if self.ok else "FAIL"
        fix = f"; fix: {self.fix}" if self.fix and not self.ok else ""
        return printable(f"{status}  {self.check}: {' '.join(self.message.split())}{fix}")


def passed(check: str, message: str) -> Finding:
    """A check that passed."""
    return Finding(check, True, message)


def noticed(check: str, message: str) -> Finding:
    """A check that passed with something to say even where passes are not shown."""
    return Finding(check, True, message, notice=True)


def failed(check: str, message: str, fix: str) -> Finding:
    """A check that failed, with what fixes it."""
    return Finding(check, False, message, fix)


@dataclass(frozen=True)
class Check:
    """A named check: a function from the setup to what it found."""

    name: str
    run: Callable[[Setup], Sequence[Finding]]


def notices(findings: Sequence[Finding]) -> list[Finding]:
    """The passed findings that still ask to be shown."""
    return [finding for finding in findings if finding.ok and finding.notice]


def failures(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that did not pass."""
    return [finding for finding in findings if not finding.ok]
