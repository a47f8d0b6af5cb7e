"""Disk space where a campaign writes: the workspace, the state folder, the folders runs happen in."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from autoresearch.doctor.findings import Finding, failed, passed
from autoresearch.doctor.setup import Setup

NAME = "disk"
GIB = 1024**3
# A night's record, the progress stream (kept to 256 MB), run.log (64 MiB), each run's copy of the workspace and
# its data, the ledger's store: a campaign that starts below this may stop halfway with a full disk.
FLOOR = 2 * GIB


def existing(path: Path) -> Path:
    """The path, or its nearest folder above that exists (a state folder is made only when `up` starts)."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(setup: Setup, floor: int = FLOOR) -> list[Finding]:
    """Free space on each filesystem a campaign writes to, at least floor bytes."""
    places = {"workspace": setup.workspace, "state folder": setup.state_dir,
              "run folders": Path(setup.run_env.get("TMPDIR") or tempfile.gettempdir())}
    filesystems: dict[int, list[tuple[str, Path]]] = {}
    for label, path in places.items():
        found = existing(path)
        try:
            filesystems.setdefault(os.stat(found).st_dev, []).append((label, found))
        except OSError as error:
            return [failed(NAME, f"cannot look at the {label} {path}: {error}", f"check that {path} is readable")]
    findings = []
    for named in filesystems.values():
        labels, path = _listed([label for label, _ in named]), named[0][1]
        free = shutil.disk_usage(path).free
        if free < floor:
            findings.append(failed(NAME, f"{free / GIB:.1f} GiB free for the {labels} ({path}); a campaign needs "
                                         f"{floor / GIB:.0f} GiB", "free space there, or choose another folder "
                                         "(--state-dir for the state, TMPDIR for runs)"))
        else:
            findings.append(passed(NAME, f"{free / GIB:.0f} GiB free for the {labels}"))
    return findings


def _listed(labels: list[str]) -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
