"""Git objects over the JetStream object store: a commit arrives elsewhere with the same hash."""

from __future__ import annotations

from pathlib import Path

import git as gitpython
import pytest

from shared.bus import Bus
from shared.gitobjects import (
    MissingObjects, base_key, commit_key, ensure_commit, has_commit, open_mirror, show_file, upload_bundle,
)
from tests.conftest import TOY_PREPARE, git, make_workspace


def commit_change(path: Path, text: str, message: str) -> str:
    (path / "train.py").write_text(text)
    git(path, "commit", "-q", "-am", message)
    return git(path, "rev-parse", "HEAD")


@pytest.fixture
def history(tmp_path: Path) -> tuple[gitpython.Repo, str, str, str]:
    """A workspace with a base commit and two experiments on top of it."""
    path = make_workspace(tmp_path / "source", "DEPTH = 4\n")
    base = git(path, "rev-parse", "HEAD")
    first = commit_change(path, "DEPTH = 5\n", "experiment: deeper")
    second = commit_change(path, "DEPTH = 6\n", "experiment: deeper still")
    return gitpython.Repo(path), base, first, second


async def test_commit_arrives_with_its_prerequisite_chain_and_the_same_hash(bus: Bus, history, tmp_path: Path):
    source, base, first, second = history
    await upload_bundle(bus, source, base_key("c1"), base)
    await upload_bundle(bus, source, commit_key(first), first, exclude=base)
    await upload_bundle(bus, source, commit_key(second), second, exclude=first)

    mirror = open_mirror(tmp_path / "elsewhere.git")
    assert not has_commit(mirror, second)
    await ensure_commit(bus, mirror, second, "c1")

    assert all(has_commit(mirror, commit) for commit in (base, first, second))
    assert mirror.git.rev_parse(f"{second}^") == first
    assert mirror.git.rev_parse(f"{first}^") == base
    assert show_file(mirror, second, "train.py") == "DEPTH = 6\n"
    refs = mirror.git.for_each_ref("--format=%(objectname)", "refs/autoresearch/objects/").split()
    assert second in refs  # kept reachable, so gc never prunes imported commits


async def test_commit_bundle_holds_only_what_its_parent_lacks(bus: Bus, history, tmp_path: Path):
    source, base, first, _ = history
    await upload_bundle(bus, source, commit_key(first), first, exclude=base)
    mirror = open_mirror(tmp_path / "elsewhere.git")
    with pytest.raises(MissingObjects):
        await ensure_commit(bus, mirror, first, "c1")  # base is neither bundled nor in the mirror
    assert not has_commit(mirror, first)


async def test_base_bundle_alone_brings_the_base_commit(bus: Bus, history, tmp_path: Path):
    source, base, _, _ = history
    await upload_bundle(bus, source, base_key("c1"), base)
    mirror = open_mirror(tmp_path / "elsewhere.git")
    await ensure_commit(bus, mirror, base, "c1")
    assert has_commit(mirror, base)
    assert show_file(mirror, base, "prepare.py") == TOY_PREPARE


async def test_commit_missing_from_the_store_raises_missing_objects(bus: Bus, tmp_path: Path):
    mirror = open_mirror(tmp_path / "elsewhere.git")
    with pytest.raises(MissingObjects, match="no bundle"):
        await ensure_commit(bus, mirror, "f" * 40, "c1")


async def test_commit_absent_from_the_base_bundle_raises_missing_objects(bus: Bus, history, tmp_path: Path):
    source, base, _, _ = history
    await upload_bundle(bus, source, base_key("c1"), base)
    mirror = open_mirror(tmp_path / "elsewhere.git")
    with pytest.raises(MissingObjects, match="did not contain"):
        await ensure_commit(bus, mirror, "f" * 40, "c1")


async def test_show_file_of_a_missing_path_raises_missing_objects(history):
    source, base, _, _ = history
    with pytest.raises(MissingObjects, match="nope.py"):
        show_file(source, base, "nope.py")
