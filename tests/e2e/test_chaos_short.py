"""A short chaos round (bench/chaos.py): services killed by SIGKILL and a fuzz round while `up` runs a campaign."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from chaos import Plan, run_chaos  # noqa: E402  (the benchmark's own measures)


async def test_killed_services_lose_no_experiment_and_the_limit_holds(tmp_path: Path) -> None:
    plan = Plan(experiments=4, service_kills=4, nats_kills=0, up_kills=0, fuzz=1, seed=7, timeout=240.0)
    report = await run_chaos(tmp_path, plan)

    assert not report.aborted, report.aborted
    assert sum(report.kills.values()) == 4
    assert report.lost == 0, report.record
    assert report.duplicated == 0, report.record
    assert report.record["rows"] == 1 + plan.experiments, report.record
    assert report.record["decided"] == plan.experiments, report.record
    assert report.runs["runs after the commit's result was published"] == 0, report.runs
    assert report.runs["runs started while another was running"] == 0, report.runs
    assert report.branch == {"tip is the last kept commit": True, "kept commits not in the branch": 0}
