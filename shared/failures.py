"""Which handler failures are worth retrying: one rule for every consumer of the bus."""

from __future__ import annotations

import re

import nats
from git import GitCommandError
from pydantic import ValidationError


class PermanentError(Exception):
    """A handler's way of saying: this event can never succeed, set it aside."""


class RetryLater(Exception):
    """A handler's way of saying: not now (an endpoint is down, a budget is spent); hand it back for later."""


# Git's words for input it will never accept: an object that is not there or not of the kind asked for,
# a file missing at a commit, a date or identity it cannot parse. The same event meets the same words again.
_GIT_REFUSALS = re.compile(
    r"not a tree|is a \w+, not a|expected \w+ type|bad object|bad revision|unknown revision|could not parse object"
    r"|not a valid object name|invalid object|does not exist in|exists on disk, but not in|ambiguous argument"
    r"|invalid date|bad date|empty ident|disallowed characters|does not look like a v\d bundle",
    re.IGNORECASE,
)
# ...and its words for trouble that passes, which win over the above: a lock another git process holds,
# a full disk, failing I/O, exhausted memory or file handles.
_GIT_PASSING = re.compile(
    r"\.lock\b|cannot lock|unable to create|another git process|no space left|input/output error|disk quota"
    r"|too many open files|cannot allocate memory|out of memory|resource temporarily unavailable|timed out",
    re.IGNORECASE,
)


def _git_refuses_input(stderr: str) -> bool:
    """True when git failed over what it was given, which no retry changes, rather than over the machine it ran on."""
    return not _GIT_PASSING.search(stderr) and bool(_GIT_REFUSALS.search(stderr))


def is_permanent(exc: BaseException) -> bool:
    """True when handling the same event again would fail the same way, so retrying only holds up the queue.

    Permanent: a handler's PermanentError (MissingObjects among them: the bundle is not in the object store);
    a pydantic ValidationError (an event derived from this one cannot be built from it); a payload over the
    server's limit; git refusing its input. Everything else (timeouts, lost connections, full disks, git
    locks, a git killed by a signal, errors nobody has classified) is retried, because setting aside an
    event that would have succeeded loses work, while a needless retry costs only a few seconds.
    """
    if isinstance(exc, PermanentError | ValidationError | nats.errors.MaxPayloadError):
        return True
    if isinstance(exc, GitCommandError):
        return isinstance(exc.status, int) and exc.status > 0 and _git_refuses_input(str(exc.stderr))
    return False


def redelivery_delay(delivered: int, retry_later: bool) -> float:
    """Seconds before a handed-back event comes again: longer for 'not now' than for a handler that failed."""
    return min(5.0 * delivered, 60.0) if retry_later else min(2.0 * delivered, 30.0)
