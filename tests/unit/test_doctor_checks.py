"""doctor's pieces on hand-made cases: the train command's words, data places, disk floor, a check that breaks."""

from __future__ import annotations

import os
from pathlib import Path, PurePath

import pytest

from autoresearch.doctor.command import TrainCommand, find_program, script_interpreter
from autoresearch.doctor.data import Place, data_places
from autoresearch.doctor.diagnose import diagnose
from autoresearch.doctor.disk import check_disk
from autoresearch.doctor.findings import Check, Finding, passed
from autoresearch.doctor.setup import Setup


def setup(tmp_path: Path) -> Setup:
    return Setup(workspace=tmp_path, state_dir=tmp_path / ".autoresearch" / "not-yet", command=None,
                 command_error=None, environ={}, run_env={"PATH": os.defpath, "TMPDIR": str(tmp_path)},
                 program=None, interpreter=None)


@pytest.mark.parametrize(("text", "words", "uv", "python"), [
    ("uv run train.py", ("uv", "run", "train.py"), True, False),
    ("PYTHONUNBUFFERED=1 env nice python3.11 train.py > out.log 2>&1", ("python3.11", "train.py"), False, True),
    ("/venv/bin/python -u train.py; echo done", ("/venv/bin/python", "-u", "train.py"), False, True),
    ("torchrun --nproc-per-node 1 train.py", ("torchrun", "--nproc-per-node", "1", "train.py"), False, False),
])
def test_the_first_simple_command_is_what_starts(text: str, words: tuple[str, ...], uv: bool, python: bool) -> None:
    command = TrainCommand.parse(text)
    assert command.words == words and command.uses_uv is uv and command.runs_python is python


def test_a_command_that_is_not_shell_is_refused() -> None:
    with pytest.raises(ValueError):
        TrainCommand.parse("python 'train.py")


def test_programs_are_found_as_the_shell_finds_them(tmp_path: Path) -> None:
    script = tmp_path / "bin" / "launch"
    script.parent.mkdir()
    script.write_text("#!/usr/bin/env python3\nprint('hi')\n")
    assert find_program("bin/launch", "/nowhere", tmp_path) is None  # not executable
    script.chmod(0o755)
    assert find_program("bin/launch", "/nowhere", tmp_path) == str(script)
    assert find_program("launch", str(script.parent), tmp_path) == str(script)
    (tmp_path / "python3").symlink_to(script)  # any executable named python3 on that PATH
    assert script_interpreter(str(script), str(tmp_path)) == str(tmp_path / "python3")


def test_a_data_folder_is_left_to_the_places_inside_it(tmp_path: Path) -> None:
    (tmp_path / "cache" / "data").mkdir(parents=True)
    (tmp_path / "cache" / "data" / "val.bin").write_bytes(b"x")
    constants = {"CACHE_DIR": str(tmp_path / "cache"), "DATA_DIR": str(tmp_path / "cache" / "data"),
                 "VAL_FILENAME": "val.bin", "MISSING_FILE": "nowhere.bin", "BASE_URL": "https://x/data"}
    assert data_places(constants, tmp_path) == [
        Place("VAL_FILENAME", tmp_path / "cache" / "data" / "val.bin", False),
        Place("MISSING_FILE", PurePath("nowhere.bin"), False),
    ]


def test_a_filesystem_below_the_floor_fails_and_names_the_fix(tmp_path: Path) -> None:
    assert all(finding.ok for finding in check_disk(setup(tmp_path), floor=1))
    [finding] = check_disk(setup(tmp_path), floor=2**62)
    assert not finding.ok and "workspace, state folder and run folders" in finding.message
    assert "--state-dir" in (finding.fix or "")


def test_a_check_that_breaks_is_a_failed_finding_and_the_others_still_report(tmp_path: Path) -> None:
    def broken(_: Setup) -> list[Finding]:
        raise RuntimeError("boom")

    findings = diagnose(setup(tmp_path), [Check("broken", broken), Check("fine", lambda _: [passed("fine", "ok")])])
    assert [(f.check, f.ok) for f in findings] == [("broken", False), ("fine", True)]
    assert "RuntimeError: boom" in findings[0].line()


def test_a_finding_is_one_line_without_control_characters() -> None:
    line = Finding("data", False, "DATA_DIR\n(/x\x1b[31m) is missing", "cd /w && uv run prepare.py").line()
    assert line == "FAIL  data: DATA_DIR (/x) is missing; fix: cd /w && uv run prepare.py"


def test_up_shows_what_will_take_time_though_it_shows_no_passed_check(capsys: pytest.CaptureFixture[str]) -> None:
    """The first sync of a uv environment downloads its dependencies: `up` says so rather than seem to hang."""
    from autoresearch.commands.doctor import refuse_unready
    from autoresearch.doctor.findings import noticed, passed

    refuse_unready([passed("disk", "70 GiB free"), noticed("dependencies", "will be synced into /envs/x")], "not ready")
    out = capsys.readouterr().out
    assert "will be synced into /envs/x" in out
    assert "70 GiB free" not in out
