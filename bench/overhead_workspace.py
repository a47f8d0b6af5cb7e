"""The overhead benchmark's shared work: a workspace, a fixed list of edits, and the stand-in model that proposes them.

Both sides of the comparison run the same train.py from the same commit and apply the same edits in the same
order: edit i sets constant C<i> (each edit its own line, so an edit prepared ahead still applies after a keep)
to a value that improves val_bpb when i % 3 == 1 and worsens it otherwise. train.py notes its own start, end and
CPU time in a log outside the workspace, so both sides are timed by the same clock at the same points.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from chat_standin import ChatStandIn

TRAIN_PY = '''"""A stand-in training run: waits TRAIN_SECONDS, scores its constants, notes its times outside the workspace."""
import time
START = time.time()
import json
import resource

TIME_LOG = @TIME_LOG@
TRAIN_SECONDS = @SECONDS@
@CONSTANTS@

time.sleep(TRAIN_SECONDS)
score = 1.0 - 0.01 * sum(value - 1.0 for name, value in sorted(globals().items()) if name[:1] == "C" and name[1:].isdigit())
print("---")
print(f"val_bpb: {score:.6f}")
print("peak_vram_mb: 100.0")
print(f"training_seconds: {TRAIN_SECONDS:.1f}")
usage = resource.getrusage(resource.RUSAGE_SELF)
with open(TIME_LOG, "a") as log:
    log.write(json.dumps({"start": START, "end": time.time(), "cpu": usage.ru_utime + usage.ru_stime}) + "\\n")
'''

GIT_IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


@dataclass(frozen=True)
class Edit:
    """One experiment of the list: set constant `name` to `value`."""

    name: str
    value: str

    @property
    def description(self) -> str:
        return f"set {self.name} to {self.value}"


def edit_list(experiments: int) -> list[Edit]:
    """The fixed edits: every third one a gain, the others losses."""
    return [Edit(f"C{i:03d}", "1.5" if i % 3 == 1 else "0.5") for i in range(1, experiments + 1)]


def make_workspace(path: Path, time_log: Path, train_seconds: float, experiments: int) -> None:
    """A git workspace of one commit: prepare.py, the stand-in train.py with one constant per experiment."""
    constants = "\n".join(f"{edit.name} = 1.0" for edit in edit_list(experiments))
    text = (TRAIN_PY.replace("@TIME_LOG@", repr(str(time_log))).replace("@SECONDS@", repr(train_seconds))
            .replace("@CONSTANTS@", constants))
    path.mkdir(parents=True)
    (path / "prepare.py").write_text("TIME_BUDGET = 1\n")
    (path / "train.py").write_text(text)
    # The stand-in prints its own val_bpb: there is no prepare.py evaluation to watch.
    (path / "autoresearch.toml").write_text("[workspace]\ntrust_printed_metric = true\n")
    (path / ".gitignore").write_text("run.log\nresults.tsv\n.autoresearch/\n")
    for args in (["init", "-q", "-b", "master"], ["add", "."], ["commit", "-qm", "workspace"]):
        subprocess.run(["git", *args], cwd=path, check=True, env={**os.environ, **GIT_IDENTITY})


def read_time_log(path: Path) -> list[dict]:
    """The runs train.py noted, in the order they ended."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# Karpathy's protocol as a plain sequential loop: edit with sed, commit, run, grep, keep or reset, log a row.
BASH_LOOP = r"""set -u
cd "$1"; edits="$2"; python="$3"
git checkout -q -b autoresearch/bash
printf 'commit\tval_bpb\tmemory_gb\tstatus\tdescription\n' > results.tsv
"$python" train.py > run.log 2>&1
best=$(grep '^val_bpb:' run.log | cut -d' ' -f2)
printf '%s\t%s\t0.1\tkeep\tbaseline\n' "$(git rev-parse --short HEAD)" "$best" >> results.tsv
while read -r name value; do
  sed -i "s/^$name = .*/$name = $value/" train.py
  git commit -qam "experiment: set $name to $value"
  "$python" train.py > run.log 2>&1
  val=$(grep '^val_bpb:' run.log | cut -d' ' -f2)
  commit=$(git rev-parse --short HEAD)
  if [ -n "$val" ] && awk -v a="$val" -v b="$best" 'BEGIN { exit !(a < b) }'; then
    best=$val; status=keep
  else
    git reset -q --hard HEAD~1; status=discard
  fi
  printf '%s\t%s\t0.1\t%s\tset %s to %s\n' "$commit" "${val:-0.000000}" "$status" "$name" "$value" >> results.tsv
done < "$edits"
"""


def write_edits(path: Path, edits: list[Edit]) -> None:
    """The edit list as the bash loop reads it: `NAME VALUE` a line."""
    path.write_text("".join(f"{edit.name} {edit.value}\n" for edit in edits))


class StandInModel:
    """A Chat Completions endpoint that answers at once with the next edit of the list, in the order it is asked."""

    def __init__(self, edits: list[Edit]) -> None:
        self.edits, self.calls, self.lock = edits, 0, threading.Lock()
        self.endpoint = ChatStandIn(self.answer)

    @property
    def url(self) -> str:
        return self.endpoint.url

    def restart(self) -> None:
        """Begin the list again, for the next campaign."""
        with self.lock:
            self.calls = 0

    def answer(self, prompt: str) -> dict:
        """The next edit of the list (past its end, the last constant again), searched as train.py shows it."""
        with self.lock:
            edit = self.edits[min(self.calls, len(self.edits) - 1)]
            self.calls += 1
        current = re.search(rf"^{edit.name} = (\S+)$", prompt, re.MULTILINE)
        search = f"{edit.name} = {current.group(1) if current else '1.0'}"
        return {"description": edit.description, "rationale": "listed", "expected_vram_impact": "none",
                "edits": [{"search": search, "replace": f"{edit.name} = {edit.value}"}]}

    def close(self) -> None:
        self.endpoint.close()
