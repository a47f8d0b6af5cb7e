"""The trainer's results.tsv: one row per experiment it applied a verdict to, appended, readable by all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.trainer.results_file import ResultsFile, recording
from shared.events import VerdictDecided
from shared.results_tsv import HEADER

TAG = "nov27"
COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def verdict(experiment: str, status: str = "keep", val_bpb: float | None = 1.0, campaign: str = TAG,
            description: str = "raise the LR") -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=experiment, producer="evaluator/1", commit=COMMIT,
                          status=status, val_bpb=val_bpb, memory_gb=12.0, head=COMMIT, description=description)


def rows(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == HEADER
    return [line.split("\t") for line in lines[1:]]


def test_the_first_verdict_of_each_experiment_of_its_campaign_becomes_its_row() -> None:
    results = ResultsFile(None, TAG)

    assert results.record(verdict(f"{TAG}-0000", description="baseline"))
    assert results.record(verdict(f"{TAG}-0001", "discard", 1.1))
    assert not results.record(verdict(f"{TAG}-0001", "keep", 0.5))  # the trainer applied the first: it stands
    assert not results.record(verdict("other-0002", campaign="other"))

    lines = results.text().splitlines()
    assert lines[0] == HEADER and [line.split("\t")[3:] for line in lines[1:]] == [
        ["keep", "baseline"], ["discard", "raise the LR"]]


async def test_the_file_is_readable_by_everyone_whatever_the_trainers_umask(tmp_path: Path) -> None:
    path = tmp_path / "workspace" / "results.tsv"
    results = ResultsFile(path, TAG)
    results.record(verdict(f"{TAG}-0000"))
    previous = os.umask(0o077)
    try:
        await results.write()
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert rows(path) == [["a1b2c3d", "1.000000", "12.0", "keep", "raise the LR"]]
    assert [p.name for p in path.parent.iterdir()] == ["results.tsv"]  # no temporary file left beside it


async def test_a_file_that_cannot_be_written_is_logged_and_the_verdict_still_counts(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    results = ResultsFile(tmp_path / "not-a-folder" / "results.tsv", TAG)
    decided: set[str] = set()

    async def apply(event: VerdictDecided) -> None:
        decided.add(event.experiment_id)

    await recording(apply, results, lambda: decided)(verdict(f"{TAG}-0000"))

    assert decided == {f"{TAG}-0000"} and list(results.verdicts) == [f"{TAG}-0000"]


async def test_a_verdict_the_trainer_sets_aside_never_becomes_a_row(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    results = ResultsFile(path, TAG)
    decided: set[str] = set()

    async def apply(event: VerdictDecided) -> None:
        if event.head == COMMIT and event.status != "crash":  # as the trainer refuses a verdict it cannot apply
            decided.add(event.experiment_id)

    handle = recording(apply, results, lambda: decided)
    await handle(verdict(f"{TAG}-0001", "crash", None))
    assert not path.exists()
    await handle(verdict(f"{TAG}-0002"))

    assert [row[3] for row in rows(path)] == ["keep"]


async def test_a_handler_that_fails_writes_nothing_so_the_retried_verdict_is_written_once(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    results = ResultsFile(path, TAG)
    decided: set[str] = set()
    attempts = []

    async def apply(event: VerdictDecided) -> None:
        attempts.append(event.experiment_id)
        if len(attempts) == 1:
            raise TimeoutError("NATS away")
        decided.add(event.experiment_id)

    handle = recording(apply, results, lambda: decided)
    with pytest.raises(TimeoutError):
        await handle(verdict(f"{TAG}-0001"))
    assert not path.exists()
    await handle(verdict(f"{TAG}-0001"))
    await handle(verdict(f"{TAG}-0001"))  # redelivered

    assert len(rows(path)) == 1


async def test_each_verdict_appends_its_row_leaving_the_file_and_its_earlier_bytes_in_place(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    results = ResultsFile(path, TAG)
    results.record(verdict(f"{TAG}-0000", description="baseline"))
    await results.write()
    inode, before = path.stat().st_ino, path.read_bytes()

    for number in (1, 2, 3):
        results.record(verdict(f"{TAG}-{number:04d}", "discard", 1.1, description=f"idea {number}"))
        await results.write()
        assert path.stat().st_ino == inode  # the same file, appended, never replaced
        assert path.read_bytes().startswith(before) and path.read_bytes() != before
        before = path.read_bytes()

    assert [row[4] for row in rows(path)] == ["baseline", "idea 1", "idea 2", "idea 3"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


@pytest.mark.parametrize("change", ["truncate", "remove", "edit"])
async def test_a_file_someone_else_changed_is_written_whole_on_the_next_verdict(tmp_path: Path, change: str) -> None:
    path = tmp_path / "results.tsv"
    results = ResultsFile(path, TAG)
    for number in (0, 1):
        results.record(verdict(f"{TAG}-{number:04d}", description=f"idea {number}"))
        await results.write()
    if change == "truncate":
        path.write_text("")
    elif change == "remove":
        path.unlink()
    else:
        path.write_text(path.read_text().replace("idea 0", "idea zero"))  # a row edited by hand

    results.record(verdict(f"{TAG}-0002", description="idea 2"))
    await results.write()

    assert path.read_text() == results.text()
    assert [row[4] for row in rows(path)] == ["idea 0", "idea 1", "idea 2"]
