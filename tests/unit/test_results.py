"""results.tsv rows in Karpathy's exact five-column format."""

from __future__ import annotations

import stat
from pathlib import Path

from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from shared.events import VerdictDecided
from shared.results_tsv import HEADER, render_results, results_row
from tests.ledger_support import CampaignScript

COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def verdict(status: str = "keep", val_bpb: float | None = 0.9979, memory_gb: float = 44.0,
            description: str = "baseline", baseline: bool = False, commit: str = COMMIT, experiment: str = "c1-0001") -> VerdictDecided:
    return VerdictDecided(campaign="c1", experiment_id=experiment, producer="evaluator/1", commit=commit, status=status,
                          val_bpb=val_bpb, memory_gb=memory_gb, head=commit, description=description, baseline=baseline)


def test_header_is_karpathys_five_columns():
    assert HEADER == "commit\tval_bpb\tmemory_gb\tstatus\tdescription"


def test_keep_row_has_short_hash_six_decimals_and_one_decimal_memory():
    assert results_row(verdict()) == "a1b2c3d\t0.997900\t44.0\tkeep\tbaseline"


def test_values_are_rounded_not_truncated():
    row = results_row(verdict("discard", 1.0123456789, 12.345, "increase LR"))
    assert row == "a1b2c3d\t1.012346\t12.3\tdiscard\tincrease LR"


def test_crash_row_has_zero_val_bpb_and_memory():
    assert results_row(verdict("crash", None, 0.0, "double the width")) == "a1b2c3d\t0.000000\t0.0\tcrash\tdouble the width"


def test_crash_row_hides_a_stray_val_bpb_and_memory():
    assert results_row(verdict("crash", 0.5, 30.0, "oom")) == "a1b2c3d\t0.000000\t0.0\tcrash\toom"


def test_description_whitespace_is_collapsed_to_single_spaces():
    row = results_row(verdict(description="  raise\tthe  learning\nrate  "))
    assert row.split("\t")[4] == "raise the learning rate"
    assert row.count("\t") == 4


def test_empty_description_of_the_baseline_reads_baseline():
    assert results_row(verdict(description="", baseline=True)).endswith("\tkeep\tbaseline")


def test_empty_description_of_an_experiment_reads_a_dash():
    assert results_row(verdict(description=" ")).endswith("\tkeep\t-")


def test_render_has_the_header_then_one_row_per_verdict_in_order():
    second = "ffffffffffffffffffffffffffffffffffffffff"
    text = render_results([verdict(), verdict("discard", 1.1, 44.0, "wider", commit=second, experiment="c1-0002")])
    assert text == (
        "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
        "a1b2c3d\t0.997900\t44.0\tkeep\tbaseline\n"
        "fffffff\t1.100000\t44.0\tdiscard\twider\n"
    )


def test_render_of_no_verdicts_is_just_the_header():
    assert render_results([]) == HEADER + "\n"


async def test_an_experiment_of_three_runs_is_one_row_with_the_verdicts_mean(tmp_path: Path) -> None:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    script.confirmed("warmup 5%", [0.9951, 0.9973, 0.9962], start=100)
    ctx = LedgerContext(EventStore(tmp_path / "state" / "events.sqlite3"), tmp_path / "results", {})
    for event in script.events:
        await on_event(event, ctx)

    rows = ctx.results_path("nov27").read_text().splitlines()[1:]

    assert len(rows) == 2 and rows[1].split("\t")[1:] == ["0.996200", "44.0", "keep", "warmup 5%"]


async def test_results_tsv_is_readable_by_all_and_the_store_by_its_owner_only(tmp_path: Path) -> None:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    ctx = LedgerContext(EventStore(tmp_path / "state" / "events.sqlite3"), tmp_path / "results", {})
    for event in script.events:
        await on_event(event, ctx)

    assert stat.S_IMODE(ctx.results_path("nov27").stat().st_mode) == 0o644
    for name in ("events.sqlite3", "events.sqlite3-wal", "events.sqlite3-shm"):
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600, name


def test_a_description_with_terminal_sequences_reaches_no_cell() -> None:
    row = results_row(verdict(description="\x1b]0;owned\x07lr \x1b[31mup\x1b[0m\x9b2J\x07 x2\r"))

    assert row.split("\t")[4] == "lr up x2"
    assert not any(ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f for char in row.replace("\t", ""))


async def test_each_verdict_appends_its_row_to_the_ledgers_file_in_place(tmp_path: Path) -> None:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    for number in range(3):
        script.experiment(f"idea {number}", 0.99 - number / 100, 100 + 100 * number, 160 + 100 * number)
    ctx = LedgerContext(EventStore(tmp_path / "state" / "events.sqlite3"), tmp_path / "results", {})
    path = ctx.results_path("nov27")
    seen: list[tuple[int, bytes]] = []
    for event in script.events:
        await on_event(event, ctx)
        if isinstance(event, VerdictDecided):
            seen.append((path.stat().st_ino, path.read_bytes()))

    assert len({inode for inode, _ in seen}) == 1  # one file all along, never replaced
    assert all(later.startswith(earlier) and len(later.splitlines()) == len(earlier.splitlines()) + 1
               for (_, earlier), (_, later) in zip(seen, seen[1:]))
    assert seen[-1][1].decode() == render_results(ctx.store.verdicts("nov27"))


async def test_the_ledgers_file_truncated_or_removed_by_someone_is_written_whole_again(tmp_path: Path) -> None:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    ctx = LedgerContext(EventStore(tmp_path / "state" / "events.sqlite3"), tmp_path / "results", {})
    path = ctx.results_path("nov27")
    for event in script.events:
        await on_event(event, ctx)

    for number, spoil in enumerate((lambda: path.write_text(""), path.unlink, lambda: path.write_text("commit\n"))):
        spoil()
        decided = len(script.events)
        script.experiment(f"idea {number}", 0.99, 100 + 100 * number, 160 + 100 * number)
        for event in script.events[decided:]:
            await on_event(event, ctx)
        assert path.read_text() == render_results(ctx.store.verdicts("nov27"))
        assert len(path.read_text().splitlines()) == number + 3 and stat.S_IMODE(path.stat().st_mode) == 0o644


async def test_a_redelivered_verdict_puts_its_row_in_a_file_it_is_missing_from(tmp_path: Path) -> None:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    script.experiment("idea", 0.99, 100, 160)
    ctx = LedgerContext(EventStore(tmp_path / "state" / "events.sqlite3"), tmp_path / "results", {})
    for event in script.events:
        await on_event(event, ctx)
    path = ctx.results_path("nov27")
    whole = path.read_text()
    path.write_text(whole.rsplit("\n", 2)[0] + "\n")  # the last row lost, as a write cut short would leave it

    await on_event(script.events[-1], ctx)  # its verdict, delivered again

    assert path.read_text() == whole
