"""The whole system from the command line: `autoresearch up` on a toy workspace."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest

from tests.conftest import git

SUBJECTS = ("proposal.created", "commit.made", "run.finished", "verdict.decided")


def run_up(workspace: Path, nats_url: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run `autoresearch up` against an external NATS server, as a user would."""
    env = {**os.environ, "NATS_URL": nats_url, "OPENAI_API_KEY": "sk-test-never-leaks"}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--http-port", "0",
               "--train-command", f"{sys.executable} train.py", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


async def collect(nats_url: str, bucket: list[tuple[str, bytes]]) -> nats.NATS:
    """A plain NATS client subscribed to everything, as any observer could be."""
    nc = await nats.connect(nats_url)

    async def keep(msg) -> None:
        bucket.append((msg.subject, msg.data))

    await nc.subscribe(">", cb=keep)
    return nc


def results_rows(workspace: Path) -> list[list[str]]:
    lines = (workspace / "results.tsv").read_text().splitlines()
    assert lines[0] == "commit\tval_bpb\tmemory_gb\tstatus\tdescription"
    return [line.split("\t") for line in lines[1:]]


async def test_up_runs_baseline_and_experiments_then_stops(toy_workspace: Path, nats_server: str) -> None:
    seen: list[tuple[str, bytes]] = []
    nc = await collect(nats_server, seen)
    done = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "e2e", "--max-experiments", "6")
    await nc.publish("test.sentinel", b"")  # reaches the subscriber after everything the campaign published
    for _ in range(200):
        if any(subject == "test.sentinel" for subject, _ in seen):
            break
        await asyncio.sleep(0.05)
    await nc.close()
    assert any(subject == "test.sentinel" for subject, _ in seen)
    assert done.returncode == 0, done.stdout + done.stderr

    rows = results_rows(toy_workspace)
    assert len(rows) == 7
    assert rows[0][3] == "keep" and rows[0][4] == "baseline"
    best = float(rows[0][1])
    for commit, val_bpb, memory_gb, status, description in rows[1:]:
        assert len(commit) == 7 and len(val_bpb.split(".")[1]) == 6 and len(memory_gb.split(".")[1]) == 1
        if status == "crash":
            assert (val_bpb, memory_gb) == ("0.000000", "0.0")
        elif status == "keep":
            assert float(val_bpb) < best
            best = float(val_bpb)
        else:
            assert status == "discard" and float(val_bpb) >= best
    statuses = {row[3] for row in rows[1:]}
    assert {"keep", "discard", "crash"} <= statuses

    kept = [row for row in rows if row[3] == "keep"]
    head = git(toy_workspace, "rev-parse", "autoresearch/e2e")
    assert head.startswith(kept[-1][0])
    assert "LEARNING_RATE" in (toy_workspace / "train.py").read_text()
    assert git(toy_workspace, "status", "--porcelain", "--untracked-files=no") == ""
    assert "results.tsv" not in git(toy_workspace, "ls-files") and "run.log" not in git(toy_workspace, "ls-files")

    events = [(subject, json.loads(data)) for subject, data in seen if subject in SUBJECTS]
    by_subject = {s: [e for subj, e in events if subj == s] for s in SUBJECTS}
    assert all(by_subject[s] for s in SUBJECTS)
    verdicts = [v for v in by_subject["verdict.decided"] if not v["baseline"]]
    for verdict in verdicts:
        experiment = verdict["experiment_id"]
        assert any(p["experiment_id"] == experiment for p in by_subject["proposal.created"])
        assert any(c["experiment_id"] == experiment and c["commit"] == verdict["commit"] for c in by_subject["commit.made"])
        assert any(r["experiment_id"] == experiment and r["commit"] == verdict["commit"] for r in by_subject["run.finished"])
    crash_runs = [r for r in by_subject["run.finished"] if r["status"] == "crash"]
    assert crash_runs and "out of memory" in crash_runs[0]["log_tail"]
    assert all(b"sk-test-never-leaks" not in data for _, data in seen)


async def test_up_refuses_existing_tag_and_resumes_with_flag(toy_workspace: Path, nats_server: str) -> None:
    first = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "again", "--max-experiments", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    refused = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "again", "--max-experiments", "1")
    assert refused.returncode == 2
    assert "autoresearch/again already exists" in refused.stderr and "--resume" in refused.stderr

    resumed = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "again", "--resume", "--max-experiments", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = results_rows(toy_workspace)
    assert len(rows) == 1 + 1 + 2
    assert [row[4] for row in rows].count("baseline") == 1


def test_up_rejects_a_folder_that_is_not_a_repository(tmp_path: Path, nats_server: str) -> None:
    done = run_up(tmp_path, nats_server, "--max-experiments", "1")
    assert done.returncode == 2
    assert "not a git repository" in done.stderr


@pytest.mark.parametrize("flag", [["--lookahead", "-1"], ["--max-experiments", "-3"]])
def test_up_rejects_bad_flags_clearly(toy_workspace: Path, nats_server: str, flag: list[str]) -> None:
    done = run_up(toy_workspace, nats_server, *flag)
    assert done.returncode == 2
    assert "Invalid value" in done.stderr


def test_up_refuses_uncommitted_changes_to_tracked_files(toy_workspace: Path, nats_server: str) -> None:
    (toy_workspace / "train.py").write_text((toy_workspace / "train.py").read_text() + "\n# local edit\n")
    done = run_up(toy_workspace, nats_server, "--max-experiments", "1")
    assert done.returncode == 2
    assert "uncommitted changes" in done.stderr and "train.py" in done.stderr
    assert "autoresearch/" not in git(toy_workspace, "branch", "--list")


def test_up_refuses_a_bad_autoresearch_toml_before_starting_anything(toy_workspace: Path, nats_server: str) -> None:
    (toy_workspace / "autoresearch.toml").write_text("[workspace]\nrun_timeout = -5\n")
    done = run_up(toy_workspace, nats_server, "--max-experiments", "1")
    assert done.returncode == 2
    assert "autoresearch.toml" in done.stderr and "run_timeout" in done.stderr
    assert not (toy_workspace / ".autoresearch").exists()
    assert "autoresearch/" not in git(toy_workspace, "branch", "--list")


async def test_interrupted_campaign_stops_cleanly_and_resumes_without_repeats(toy_workspace: Path, nats_server: str) -> None:
    slow = (toy_workspace / "train.py").read_text().replace("time.sleep(0.05)", "time.sleep(0.4)")
    (toy_workspace / "train.py").write_text(slow)
    git(toy_workspace, "commit", "-qam", "slower toy")
    env = {**os.environ, "NATS_URL": nats_server}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(toy_workspace), "--tag", "cut",
               "--http-port", "0", "--train-command", f"{sys.executable} train.py"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = toy_workspace / "results.tsv"
    for _ in range(600):
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        await asyncio.sleep(0.1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=90)
    assert process.returncode == 0, out + err
    interrupted = results_rows(toy_workspace)
    assert len(interrupted) >= 2
    assert git(toy_workspace, "status", "--porcelain", "--untracked-files=no") == ""

    resumed = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "cut", "--resume", "--max-experiments", "2")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = results_rows(toy_workspace)
    assert rows[: len(interrupted)] == interrupted
    assert len(rows) >= len(interrupted) + 2
    assert len({row[0] for row in rows}) == len(rows)
    assert [row[4] for row in rows].count("baseline") == 1
    kept = [row for row in rows if row[3] == "keep"]
    assert git(toy_workspace, "rev-parse", "autoresearch/cut").startswith(kept[-1][0])


def event_order(seen: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """(subject, experiment_id) of the loop's events in the order a subscriber saw them."""
    wanted = ("proposal.created", "proposal.rejected", "run.started", "run.finished", "verdict.decided")
    order, ids = [], set()
    for subject, data in seen:
        event = json.loads(data) if subject in wanted else None
        if event and event["event_id"] not in ids:  # `>` also sees each delivery to a consumer's inbox
            ids.add(event["event_id"])
            order.append((subject, event["experiment_id"]))
    return order


@pytest.mark.parametrize("lookahead", [0, 1])
async def test_lookahead_bounds_how_far_proposals_run_ahead(toy_workspace: Path, nats_server: str, lookahead: int) -> None:
    slow = (toy_workspace / "train.py").read_text().replace("time.sleep(0.05)", "time.sleep(0.3)")
    (toy_workspace / "train.py").write_text(slow)
    git(toy_workspace, "commit", "-qam", "slower toy")
    seen: list[tuple[str, bytes]] = []
    nc = await collect(nats_server, seen)
    done = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", f"la{lookahead}",
                                   "--max-experiments", "3", "--lookahead", str(lookahead))
    await nc.flush()
    await nc.close()
    assert done.returncode == 0, done.stdout + done.stderr
    open_experiments: set[str] = set()
    most_open, proposed_ahead = 0, 0
    for subject, experiment in event_order(seen):
        if subject == "proposal.created" and open_experiments - {experiment}:  # prepared while another is undecided
            proposed_ahead += 1
        if subject in ("proposal.created", "run.started"):
            open_experiments.add(experiment)
        if subject in ("verdict.decided", "proposal.rejected"):
            open_experiments.discard(experiment)
        most_open = max(most_open, len(open_experiments))
    assert most_open <= 1 + lookahead, event_order(seen)
    assert (proposed_ahead > 0) == (lookahead > 0)
    first_proposal = next(i for i, (subject, _) in enumerate(event_order(seen)) if subject == "proposal.created")
    assert ("verdict.decided", f"la{lookahead}-0000") in event_order(seen)[:first_proposal]  # none before the baseline's keep


def test_workspace_keeps_only_the_branch_and_discarded_refs(toy_workspace: Path, nats_server: str) -> None:
    done = run_up(toy_workspace, nats_server, "--tag", "refs", "--max-experiments", "4")
    assert done.returncode == 0, done.stdout + done.stderr
    refs = git(toy_workspace, "for-each-ref", "--format=%(refname)").splitlines()
    assert "refs/heads/autoresearch/refs" in refs
    assert not [ref for ref in refs if ref.startswith("refs/autoresearch/objects/")]
    rows = results_rows(toy_workspace)
    for commit, _, _, status, _ in rows[1:]:
        if status in ("discard", "crash"):
            ref = f"refs/autoresearch/refs/discarded/{commit}"
            assert ref in refs
            assert "experiment:" in git(toy_workspace, "show", "-s", "--format=%s", ref)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention text or run in it or below it (zombies excluded)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or " Z " in (proc / "stat").read_text().split(")", 1)[1][:4]:
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        try:
            cwd = os.readlink(proc / "cwd")
        except OSError:
            cwd = ""
        if text in cmdline or cwd == text or cwd.startswith(text + os.sep):
            found.append(cmdline)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signals are a Linux feature")
async def test_services_and_embedded_nats_do_not_outlive_a_killed_up(toy_workspace: Path) -> None:
    slow = (toy_workspace / "train.py").read_text().replace("time.sleep(0.05)", "time.sleep(2)")
    (toy_workspace / "train.py").write_text(slow)
    git(toy_workspace, "commit", "-qam", "slow toy")
    rooms = toy_workspace.parent / "rooms"  # the temp folder, where each run has a clean room
    rooms.mkdir()
    env = {key: value for key, value in os.environ.items() if key != "NATS_URL"} | {"TMPDIR": str(rooms)}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(toy_workspace), "--tag", "killed",
               "--http-port", "0", "--train-command", f"{sys.executable} train.py"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = str(toy_workspace / ".autoresearch")
    for _ in range(300):
        training = [cmd for cmd in processes_mentioning(str(rooms)) if "train.py" in cmd]
        if len(processes_mentioning(state)) >= 6 and training:
            break
        await asyncio.sleep(0.1)
    assert len(processes_mentioning(state)) >= 6 and training  # five services, nats-server, a training run
    process.kill()
    process.wait()
    for _ in range(100):
        if not processes_mentioning(state) and not processes_mentioning(str(toy_workspace)) and not processes_mentioning(str(rooms)):
            break
        await asyncio.sleep(0.1)
    survivors = processes_mentioning(state) + processes_mentioning(str(toy_workspace)) + processes_mentioning(str(rooms))
    if survivors:  # don't leave them running after a failure
        subprocess.run(["pkill", "-9", "-f", state], check=False)
    assert survivors == []


def test_up_reports_an_unreachable_nats_server(toy_workspace: Path) -> None:
    done = run_up(toy_workspace, "nats://127.0.0.1:1", "--max-experiments", "1", timeout=90)
    assert done.returncode == 2
    assert "cannot reach NATS at nats://127.0.0.1:1" in done.stderr
    assert "autoresearch/" not in git(toy_workspace, "branch", "--list")


async def test_services_killed_mid_campaign_are_restarted_and_nothing_is_lost(toy_workspace: Path, nats_server: str) -> None:
    slow = (toy_workspace / "train.py").read_text().replace("time.sleep(0.05)", "time.sleep(0.3)")
    (toy_workspace / "train.py").write_text(slow)
    git(toy_workspace, "commit", "-qam", "slower toy")
    running = asyncio.create_task(asyncio.to_thread(
        run_up, toy_workspace, nats_server, "--tag", "chaos", "--max-experiments", "5", timeout=300))
    results = toy_workspace / "results.tsv"
    for _ in range(600):
        if results.exists() and len(results.read_text().splitlines()) >= 3:
            break
        await asyncio.sleep(0.1)
    state = str(toy_workspace / ".autoresearch")
    for _ in range(50):  # a service's child between fork and exec briefly shows the service's command line too
        victims = [line for line in processes_mentioning(state) if re.search(r"service (editor|evaluator|ledger|proposer)", line)]
        if len(victims) == 4:
            break
        await asyncio.sleep(0.1)
    assert len(victims) == 4
    subprocess.run(["pkill", "-9", "-f", rf"service (editor|evaluator|ledger|proposer) --state-dir {re.escape(state)}"], check=True)
    done = await running
    assert done.returncode == 0, done.stdout + done.stderr
    rows = results_rows(toy_workspace)
    assert len(rows) == 6
    assert len({row[0] for row in rows}) == 6
    assert [row[4] for row in rows].count("baseline") == 1
    kept = [row for row in rows if row[3] == "keep"]
    assert git(toy_workspace, "rev-parse", "autoresearch/chaos").startswith(kept[-1][0])


async def test_a_second_campaign_finishes_while_the_first_campaigns_consumers_stay_behind(
    toy_workspace: Path, nats_server: str,
) -> None:
    from services.trainer.consumers import commits, control
    from shared.bus import STREAM

    first = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "first", "--max-experiments", "1")
    assert first.returncode == 0, first.stdout + first.stderr
    second = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "second", "--max-experiments", "2")
    assert second.returncode == 0, second.stdout + second.stderr
    assert git(toy_workspace, "rev-parse", "autoresearch/second")
    rows = results_rows(toy_workspace)
    assert [row[4] for row in rows].count("baseline") == 1 and len(rows) == 3
    nc = await nats.connect(nats_server)
    consumers = {c.config.durable_name: c for c in await nc.jetstream().consumers_info(STREAM)}
    await nc.close()
    # the first campaign's trainer is gone: its consumers hold the second campaign's events, never to be handled
    behind = [consumers[name("first")] for name in (control, commits)]
    assert sum(c.num_pending + c.num_ack_pending for c in behind) > 0
    drained = [consumers[name("second")] for name in (control, commits)]
    assert all(c.num_pending == 0 and c.num_ack_pending == 0 for c in drained)
