"""What a chaos round left behind, measured: lost and duplicated experiments, runs of train.py, the branch, recovery times."""

from __future__ import annotations

import statistics
import subprocess
from collections import Counter
from pathlib import Path

from chaos_plan import TAG
from chaos_report import Report
from chaos_round import Chaos, Strike
from chaos_watch import experiments_decided
from chaos_workspace import commit_of, read_run_log

from shared.events import RunFinished, RunStarted, VerdictDecided


def results_rows(path: Path) -> list[list[str]]:
    """results.tsv's rows below the header."""
    if not path.exists():
        return []
    return [line.split("\t") for line in path.read_text().splitlines()[1:] if line.strip()]


def record_figures(rows: list[list[str]], verdicts: list[VerdictDecided]) -> dict[str, int]:
    """Duplicated and lost experiments: results.tsv against the verdicts published."""
    per_commit = Counter(row[0] for row in rows)
    per_experiment = Counter(v.experiment_id for v in verdicts)
    row_commits, verdict_commits = set(per_commit), {v.commit[:7] for v in verdicts}
    return {
        "rows": len(rows),
        "decided": experiments_decided(verdicts),
        "duplicate rows": sum(n - 1 for n in per_commit.values()),
        "experiments decided twice": sum(1 for n in per_experiment.values() if n > 1),
        "verdicts missing from results.tsv": len(verdict_commits - row_commits),
        "rows without a verdict": len(row_commits - verdict_commits),
    }


def run_figures(notes: list[dict], finished_at: dict[str, float]) -> dict[str, object]:
    """Executions of train.py per commit, runs after the commit's last result was published, runs that overlapped another."""
    starts = [n for n in notes if n["event"] == "start"]
    ends = {(n["commit"], n["pid"]): n["time"] for n in notes if n["event"] == "end"}
    per_commit = Counter(n["commit"] for n in starts)
    spans = sorted((n["time"], ends[(n["commit"], n["pid"])]) for n in starts if (n["commit"], n["pid"]) in ends)
    overlapping, latest_end = 0, 0.0
    for start, end in spans:
        overlapping += start < latest_end
        latest_end = max(latest_end, end)
    return {
        "runs": len(starts),
        "commits run": len(per_commit),
        "executions per commit": dict(sorted(Counter(per_commit.values()).items())),
        "runs killed before their end": sum(1 for n in starts if (n["commit"], n["pid"]) not in ends),
        "runs after the commit's result was published": sum(
            1 for n in starts if n["commit"] in finished_at and n["time"] > finished_at[n["commit"]]),
        "runs started while another was running": sum(1 for n in starts if not n.get("alone", True)),
        "finished runs overlapping another": overlapping,
    }


def git(workspace: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=workspace, capture_output=True, text=True)


def branch_figures(workspace: Path, verdicts: list[VerdictDecided]) -> dict[str, object]:
    """The campaign branch against the kept commits: the tip is the last kept commit, every kept commit is in its history."""
    tip = git(workspace, "rev-parse", f"refs/heads/autoresearch/{TAG}").stdout.strip()
    kept = [v.commit for v in verdicts if v.status == "keep"]
    outside = sum(1 for commit in kept if git(workspace, "merge-base", "--is-ancestor", commit, tip).returncode != 0)
    return {"tip is the last kept commit": bool(kept) and tip == kept[-1], "kept commits not in the branch": outside}


def recovery_figures(strikes: list[Strike]) -> dict[str, tuple[int, float | None, float | None, int]]:
    """Per kind of kill: (kills, p50 and max seconds to the next progress, kills never recovered from)."""
    groups: dict[str, list[Strike]] = {}
    for strike in (s for s in strikes if not s.after_the_end):
        groups.setdefault(strike.kind, []).append(strike)
        if strike.kind == "service":
            groups.setdefault(f"service {strike.target}", []).append(strike)
    figures = {}
    for name, members in sorted(groups.items()):
        times = [s.recovered - s.at for s in members if s.recovered is not None]
        figures[name] = (len(members), statistics.median(times) if times else None, max(times, default=None),
                         sum(1 for s in members if s.recovered is None))
        if name == "nats":
            back = [s.recovered - s.back for s in members if s.recovered is not None and s.back is not None]
            figures["nats, from its return"] = (len(members), statistics.median(back) if back else None,
                                                max(back, default=None), figures[name][3])
    return figures


def measure(chaos: Chaos, wall: float) -> Report:
    """Read what the campaign left behind and what was seen while it ran."""
    verdicts = [s.event for s in chaos.recorder.of(VerdictDecided)]
    finished_at: dict[str, float] = {}
    for seen in chaos.recorder.of(RunFinished):  # confirmation runs run a commit again: its last result counts
        finished_at[seen.event.commit] = max(finished_at.get(seen.event.commit, seen.wall), seen.wall)
    commits = set(finished_at) | {s.event.commit for s in chaos.recorder.of(RunStarted)}
    notes = [{**n, "commit": commit_of(n, chaos.workspace, commits)} for n in read_run_log(chaos.run_log)]
    return Report(
        plan=chaos.plan, wall=wall, kills=Counter(s.target for s in chaos.strikes), sessions=len(chaos.sessions),
        exits=chaos.exits, left_behind=chaos.left_behind, fuzz=chaos.fuzz_sent,
        record=record_figures(results_rows(chaos.workspace / "results.tsv"), verdicts),
        runs=run_figures(notes, finished_at), branch=branch_figures(chaos.workspace, verdicts),
        recovery=recovery_figures(chaos.strikes), aborted=chaos.aborted,
    )
