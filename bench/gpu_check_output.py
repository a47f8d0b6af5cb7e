"""Where the GPU check's output goes: the terminal and, when OUT names a folder, files in it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import TracebackType

LOG_NAME = "gpu-check.log"
COPY_MAX = 4 * 1024 * 1024  # the end of a long log is what tells


def out_folder() -> Path | None:
    """The folder named by OUT, made if missing; None when OUT is not set."""
    value = os.environ.get("OUT")
    if not value:
        return None
    folder = Path(value)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Output:
    """Prints each line and appends it to OUT's gpu-check.log at once, so a check killed midway leaves its lines."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._file = (folder / LOG_NAME).open("a", encoding="utf-8") if folder else None

    def __enter__(self) -> Output:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._file:
            self._file.close()

    def say(self, line: str) -> None:
        """One line to the terminal and the log."""
        print(line, flush=True)
        if self._file:
            self._file.write(line + "\n")
            self._file.flush()

    def keep(self, source: Path, name: str) -> None:
        """Copy a file (its last COPY_MAX bytes) into OUT under name; nothing when OUT is unset or the file is missing."""
        if self.folder is None or not source.is_file():
            return
        size = source.stat().st_size
        if size <= COPY_MAX:
            shutil.copyfile(source, self.folder / name)
            return
        with source.open("rb") as src, (self.folder / name).open("wb") as dst:
            src.seek(size - COPY_MAX)
            dst.write(src.read())
