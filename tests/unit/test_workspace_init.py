import importlib.util
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autoresearch.workspace import InitError, adopt_workspace, init_workspace
from services.trainer.workspace_config import load_workspace_config

WORKSPACE_FILES = [".gitignore", "autoresearch.toml", "prepare.py", "program.md", "train.py"]


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@localhost", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", "-C", str(repo), *identity, *args], check=True, capture_output=True, text=True).stdout


def text_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(4):
        (folder / f"part{i}.txt").write_text(f"chapter {i}: the quick brown fox jumps over the lazy dog.\n" * 40)
    return folder


def import_prepare(workspace: Path):
    """The workspace's own prepare.py, imported fresh under a unique name."""
    spec = importlib.util.spec_from_file_location(f"prepare_{uuid.uuid4().hex}", workspace / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def text_workspace(tmp_path: Path) -> Path:
    return init_workspace(tmp_path / "ws", time_budget=7, data=text_folder(tmp_path))


def test_init_commits_exactly_the_workspace_files_once(tmp_path: Path):
    workspace = init_workspace(tmp_path / "ws", time_budget=45)

    assert git(workspace, "rev-list", "--count", "HEAD").strip() == "1"
    assert sorted(git(workspace, "ls-files").split()) == WORKSPACE_FILES
    assert git(workspace, "status", "--porcelain") == ""
    assert "TIME_BUDGET = 45" in (workspace / "prepare.py").read_text()
    assert (workspace / ".cache" / "data" / "val.bin").stat().st_size > 0
    assert {"run.log", "results.tsv", ".cache/", ".autoresearch/"} <= set((workspace / ".gitignore").read_text().split())


def test_init_writes_a_config_that_runs_this_interpreter(text_workspace: Path):
    config = load_workspace_config(text_workspace)

    assert config.train_command is not None and config.train_command.endswith(" train.py")
    assert sys.executable in config.train_command
    assert config.run_timeout == 120


def test_init_refuses_a_non_empty_target(tmp_path: Path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")

    with pytest.raises(InitError, match="busy"):
        init_workspace(target)
    assert (target / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("case", ["missing", "empty_folder", "no_txt", "blank_txt"])
def test_init_rejects_unusable_data_naming_the_path(tmp_path: Path, case: str):
    data = tmp_path / "data"
    if case != "missing":
        data.mkdir()
    if case == "no_txt":
        (data / "notes.md").write_text("markdown is not read")
    if case == "blank_txt":
        (data / "blank.txt").write_text("  \n")

    with pytest.raises(InitError, match=str(data)):
        init_workspace(tmp_path / "ws", data=data)
    assert not (tmp_path / "ws").exists()


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed")
def test_parquet_data_without_pyarrow_says_pyarrow_is_needed(tmp_path: Path):
    data = tmp_path / "shards"
    data.mkdir()
    (data / "shard_000.parquet").write_bytes(b"PAR1")

    with pytest.raises(InitError, match="pyarrow"):
        init_workspace(tmp_path / "ws", data=data)


def test_init_without_torch_names_the_train_extra_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails as if it were not installed

    with pytest.raises(InitError, match=r"torch.*autoresearch-services\[train\]"):
        init_workspace(tmp_path / "ws")
    assert not (tmp_path / "ws").exists()


def test_text_data_is_split_into_train_and_val_caches(text_workspace: Path):
    data = text_workspace / ".cache" / "data"
    train, val = (data / "train.bin").read_bytes(), (data / "val.bin").read_bytes()

    assert b"quick brown fox" in train and b"quick brown fox" in val
    assert "texts" in (text_workspace / "prepare.py").read_text()


def test_prepare_says_user_data_must_be_prepared_again_when_the_cache_is_gone(text_workspace: Path):
    for cached in (text_workspace / ".cache" / "data").iterdir():
        cached.unlink()
    prepare = import_prepare(text_workspace)

    with pytest.raises(SystemExit, match="prepare the data again"):
        prepare.load_split("train")


def test_prepare_rebuilds_the_stdlib_corpus_when_the_cache_is_gone(tmp_path: Path):
    workspace = init_workspace(tmp_path / "ws")
    val = workspace / ".cache" / "data" / "val.bin"
    before = val.read_bytes()
    val.unlink()

    rebuilt = import_prepare(workspace).load_split("val")

    assert bytes(rebuilt.tolist()) == before


def test_evaluate_bpb_of_a_uniform_model_is_eight_bits(text_workspace: Path):
    class Uniform(torch.nn.Module):
        def forward(self, idx, targets, reduction="none"):
            logits = torch.zeros(*idx.shape, 256)
            return F.cross_entropy(logits.view(-1, 256), targets.reshape(-1), reduction=reduction)

    prepare = import_prepare(text_workspace)

    assert prepare.evaluate_bpb(Uniform(), batch_size=16) == pytest.approx(8.0, abs=1e-5)


def test_evaluate_bpb_is_the_same_for_the_same_weights(text_workspace: Path):
    class Bigram(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.table = torch.nn.Embedding(256, 256)

        def forward(self, idx, targets, reduction="none"):
            return F.cross_entropy(self.table(idx).view(-1, 256), targets.reshape(-1), reduction=reduction)

    torch.manual_seed(0)
    model = Bigram()
    prepare = import_prepare(text_workspace)

    first, second = prepare.evaluate_bpb(model, 8), prepare.evaluate_bpb(model, 8)
    assert first == second
    assert first != pytest.approx(8.0, abs=1e-3)


def test_adopt_accepts_a_fresh_workspace(text_workspace: Path):
    assert adopt_workspace(text_workspace) == []


def test_adopt_reports_missing_train_py_and_tracked_run_log(tmp_path: Path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "prepare.py").write_text("TIME_BUDGET = 60\n")
    (repo / "run.log").write_text("val_bpb: 1.0\n")
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "start")

    problems = adopt_workspace(repo)

    assert any("train.py" in p for p in problems)
    assert any("run.log" in p and "tracked" in p for p in problems)
    assert not any("prepare.py" in p for p in problems)


def test_adopt_reports_a_folder_that_is_not_a_git_repository(tmp_path: Path):
    (tmp_path / "prepare.py").write_text("")
    (tmp_path / "train.py").write_text("")

    assert any("not a git repository" in p for p in adopt_workspace(tmp_path))
