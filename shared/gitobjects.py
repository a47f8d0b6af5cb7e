"""Git objects over NATS: commits travel as bundles in the JetStream object store.

A commit made on one machine arrives on another with the very same hash, which
is why services never share a filesystem.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import git
import structlog
from git.objects.fun import tree_entries_from_data
from nats.js.errors import NotFoundError

from shared.bus import Bus
from shared.failures import PermanentError

log = structlog.get_logger("gitobjects")
_SHA = re.compile(r"\b[0-9a-f]{40}\b")
TREE_MODE = 0o040000
IDENTITY = ("-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost")
# Configuration under which git runs nothing that a repository's files (or ~/.gitconfig) could name: no hooks,
# no fsmonitor, no replacement objects, no transports. It is given as command-line configuration, which outranks
# every config file, so code that rewrites .git/config cannot turn any of it back on.
INERT_CONFIG = {
    "core.hooksPath": os.devnull, "core.fsmonitor": "false", "core.useReplaceRefs": "false",
    "protocol.allow": "never", "gc.auto": "0", "maintenance.auto": "false",
}


class MissingObjects(PermanentError):
    """A commit could not be found in the object store: asking again finds the same nothing.

    Bundles are stored before the event that names them is published, so a bundle that is absent
    when its event is handled is absent for good.
    """


def commit_key(commit: str) -> str:
    """Object-store key of the bundle that carries one commit."""
    return f"commits/{commit}.bundle"


def base_key(campaign: str) -> str:
    """Object-store key of the bundle that carries a campaign's base history."""
    return f"campaigns/{campaign}/base.bundle"


def import_ref(commit: str) -> str:
    """The ref that keeps an imported or newly made commit from being garbage-collected."""
    return f"refs/autoresearch/objects/{commit}"


def open_mirror(path: Path) -> git.Repo:
    """Open, or create, a bare repository that holds imported objects."""
    if (path / "HEAD").exists():
        return git.Repo(path)
    path.mkdir(parents=True, exist_ok=True)
    return git.Repo.init(path, bare=True)


def inert(repo: git.Repo) -> git.Repo:
    """Make every later git command on repo run nothing that the repository names (see INERT_CONFIG)."""
    # Called again before a checkout whenever a run may have changed the config since: filter drivers run on
    # checkout, named in config that a run can rewrite.
    config = dict(INERT_CONFIG)
    pinned = {"GIT_NO_REPLACE_OBJECTS": "1", "GIT_DIR": str(repo.git_dir)}
    if repo.working_tree_dir is not None:  # a rewritten core.worktree must not send checkouts elsewhere
        pinned["GIT_WORK_TREE"] = str(repo.working_tree_dir)
    repo.git.update_environment(**pinned, **_as_environment(config))
    for driver in _filter_drivers(repo):  # an empty command is no filter at all; required would then fail
        config |= {f"filter.{driver}.{key}": "" for key in ("clean", "smudge", "process")}
        config[f"filter.{driver}.required"] = "false"
    repo.git.update_environment(**_as_environment(config))
    return repo


def _as_environment(config: dict[str, str]) -> dict[str, str]:
    """Configuration as git reads it from the environment, with the rank of `git -c`."""
    env = {"GIT_CONFIG_COUNT": str(len(config))}
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return env


def _filter_drivers(repo: git.Repo) -> set[str]:
    """The filter drivers any config file of repo names."""
    try:
        names = repo.git.config("-z", "--name-only", "--get-regexp", r"^filter\.")
    except git.GitCommandError:  # none named
        return set()
    return {name.removeprefix("filter.").rpartition(".")[0] for name in names.split("\0") if name.startswith("filter.")}


def object_kind(repo: git.Repo, sha: str) -> str | None:
    """The type of the object named by a full hash (commit, tree, blob, tag), read through the repository's
    long-lived `git cat-file`; None when the repository does not hold it."""
    try:
        return repo.odb.info(bytes.fromhex(sha)).type.decode()
    except (ValueError, git.BadObject, git.BadName):
        return None


def tree_entries(repo: git.Repo, tree: bytes) -> list[tuple[bytes, int, str]]:
    """A tree's entries (hash, mode, name), read without starting a git process."""
    return tree_entries_from_data(repo.odb.stream(tree).read())


def changed_paths(repo: git.Repo, before: bytes, after: bytes, prefix: str = "") -> Iterator[str]:
    """The paths whose entry differs between two trees, walking only into subtrees that differ."""
    old = {name: (sha, mode) for sha, mode, name in tree_entries(repo, before)}
    new = {name: (sha, mode) for sha, mode, name in tree_entries(repo, after)}
    for name in sorted(old.keys() | new.keys()):
        if old.get(name) == new.get(name):
            continue
        was, now = old.get(name), new.get(name)
        if was and now and was[1] == now[1] == TREE_MODE:
            yield from changed_paths(repo, was[0], now[0], f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}"


def has_commit(repo: git.Repo, commit: str) -> bool:
    """True when the repository holds the commit object."""
    try:
        repo.git.cat_file("-e", f"{commit}^{{commit}}")
        return True
    except git.GitCommandError:
        return False


def write_bundle(repo: git.Repo, tip: str, exclude: str | None, out: Path) -> None:
    """Write a bundle holding tip and its history, minus what exclude already has."""
    ref = f"refs/autoresearch/bundle/{tip}"
    repo.git.update_ref(ref, tip)
    try:
        args = ["create", str(out), ref] + ([f"^{exclude}"] if exclude else [])
        repo.git.bundle(*args)
    finally:
        repo.git.update_ref("-d", ref)


async def upload_bundle(bus: Bus, repo: git.Repo, key: str, tip: str, exclude: str | None = None) -> None:
    """Bundle tip (minus exclude) and put it in the object store under key."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "objects.bundle"
        await asyncio.to_thread(write_bundle, repo, tip, exclude, out)
        store = await bus.objects()
        await store.put(key, out.read_bytes())


def _unbundle(repo: git.Repo, path: Path) -> tuple[list[str], list[str]]:
    """Import a bundle's objects: (the commits it brought, the prerequisite commits that are missing)."""
    try:
        output = repo.git.bundle("unbundle", str(path))
    except git.GitCommandError as exc:
        missing = _SHA.findall(str(exc.stderr))
        if not missing:
            raise
        return [], missing
    tips = [match.group(0) for line in output.splitlines() if (match := _SHA.match(line))]
    for tip in tips:  # keep imported objects reachable so gc never prunes them (a bundle has one tip)
        repo.git.update_ref(import_ref(tip), tip)
    return tips, []


async def _fetch_bundle(bus: Bus, key: str) -> bytes | None:
    """The bundle under key; None when the store has no such object (a server that cannot be reached raises)."""
    store = await bus.objects()
    try:
        result = await store.get(key)
    except NotFoundError:
        return None
    return result.data


async def ensure_commit(bus: Bus, repo: git.Repo, commit: str, campaign: str, depth: int = 0) -> None:
    """Make sure repo holds commit, importing bundles (and their prerequisites) from NATS."""
    if has_commit(repo, commit):
        return
    if depth > 10_000:
        raise MissingObjects(f"history of {commit} is too deep to import")
    data = await _fetch_bundle(bus, commit_key(commit))
    if data is None:
        data = await _fetch_bundle(bus, base_key(campaign))
    if data is None:
        raise MissingObjects(f"no bundle for commit {commit} in the object store")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "objects.bundle"
        path.write_bytes(data)
        brought, missing = await asyncio.to_thread(_unbundle, repo, path)
        for prerequisite in missing:
            await ensure_commit(bus, repo, prerequisite, campaign, depth + 1)
        if missing:
            brought, _ = await asyncio.to_thread(_unbundle, repo, path)
    if commit not in brought and not has_commit(repo, commit):  # a bundle's tips are in the repository once it is read
        raise MissingObjects(f"bundle for {commit} did not contain it")


def show_file(repo: git.Repo, commit: str, path: str) -> str:
    """A file's text at a commit; MissingObjects when it is not there."""
    try:
        return repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False)
    except git.GitCommandError:
        raise MissingObjects(f"{path} does not exist at {commit[:7]}") from None
