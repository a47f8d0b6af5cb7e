"""A run's output on its way to run.log: read from a pipe by the trainer, never more than a cap on disk.

The start of the output is written as it comes; past the cap, what follows is dropped except its last
stretch, which is kept in memory and written after a line that says how much was left out. The summary
block is at the end, so it is always kept; the trainer's memory holds at most that stretch, whatever the
run prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

LOG_CAP = 64 * 1024 * 1024
LOG_END_KEPT = 1024 * 1024  # as much as the trainer reads back for the summary and the tail
_RECENT = 8192  # enough for the progress watcher's look at the latest lines
_GAP_LINE_MAX = 100


def _fresh(path: Path):
    """A new regular file at path, opened for writing and reading back.

    Whatever is at path goes first, never followed: a run that put a link there (to a start-up file, a key)
    neither gets it overwritten nor gets its content read back into an event.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    return os.fdopen(fd, "w+b")


class RunLog:
    """run.log as the run's output arrives: the head, then a gap line, then the kept end."""

    def __init__(self, path: Path, cap: int = LOG_CAP, end: int = LOG_END_KEPT) -> None:
        self.file = _fresh(path)
        self.final_text = ""  # the end of what was written, read back from this file at close
        self.end_size = max(min(end, (cap - _GAP_LINE_MAX) // 2), 0)
        self.head_room = max(cap - self.end_size - _GAP_LINE_MAX, 0)
        self.written = self.seen = 0
        self.end = bytearray()
        self.latest = b""
        self.error: OSError | None = None

    def write(self, data: bytes) -> None:
        """Take the next piece of output."""
        self.seen += len(data)
        self.latest = (self.latest + data[-_RECENT:])[-_RECENT:]
        if self.written < self.head_room:
            head, data = data[:self.head_room - self.written], data[self.head_room - self.written:]
            self._put(head)
            self.written += len(head)
        if data:
            self.end += data
            if len(self.end) > 2 * self.end_size:  # trimmed in large steps, not at every piece
                del self.end[:len(self.end) - self.end_size]

    def recent(self, size: int = _RECENT) -> str:
        """The latest output as text, however much was dropped before it."""
        return self.latest[-size:].decode(errors="replace")

    def close(self) -> None:
        """Write the kept end, after a line saying how much was left out, and close the file."""
        end = bytes(self.end[-self.end_size:]) if self.end_size else b""
        dropped = self.seen - self.written - len(end)
        if dropped:
            self._put(f"\n[run.log cut here: {dropped} bytes of output left out]\n".encode())
        self._put(end)
        with contextlib.suppress(OSError):
            self.file.flush()
            self.file.seek(max(self.file.tell() - LOG_END_KEPT, 0))
            self.final_text = self.file.read().decode(errors="replace")
        with contextlib.suppress(OSError):
            self.file.close()

    def _put(self, data: bytes) -> None:
        if self.error is None:
            try:
                self.file.write(data)
            except OSError as exc:  # a full disk: the run goes on, its output is lost from here
                self.error = exc


class _PipeReader(asyncio.Protocol):
    def __init__(self, log: RunLog, done: asyncio.Future[None]) -> None:
        self.log, self.done = log, done

    def data_received(self, data: bytes) -> None:
        self.log.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


class OutputPipe:
    """The read end of the pipe a run writes its stdout and stderr to, copied into a RunLog as it comes."""

    def __init__(self, transport: asyncio.ReadTransport, done: asyncio.Future[None]) -> None:
        self.transport, self.done = transport, done

    @classmethod
    async def open(cls, fd: int, log: RunLog) -> OutputPipe:
        """Start copying what arrives on fd into log."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        transport, _ = await loop.connect_read_pipe(lambda: _PipeReader(log, done), os.fdopen(fd, "rb", buffering=0))
        return cls(transport, done)

    async def drain(self, within: float = 5.0) -> bool:
        """Wait until every writer has closed the pipe (the run's processes are dead by now), then stop reading.

        False if a writer still held it after `within` seconds: a process escaped its run.
        """
        try:
            await asyncio.wait_for(asyncio.shield(self.done), within)
            return True
        except TimeoutError:
            return False
        finally:
            self.transport.close()
