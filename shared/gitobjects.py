"""Git objects over NATS: commits travel as bundles in the JetStream object store.

A commit made on one machine arrives on another with the very same hash, which
is why services never share a filesystem.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

import git
import structlog
from nats.js.errors import NotFoundError

from shared.bus import Bus
from shared.failures import PermanentError

log = structlog.get_logger("gitobjects")
_SHA = re.compile(r"\b[0-9a-f]{40}\b")
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
    # Called again before each checkout: filter drivers run on checkout, named in config that may have changed.
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


def _unbundle(repo: git.Repo, path: Path) -> list[str]:
    """Import a bundle's objects; return the prerequisite commits that are missing."""
    try:
        output = repo.git.bundle("unbundle", str(path))
    except git.GitCommandError as exc:
        missing = _SHA.findall(str(exc.stderr))
        if not missing:
            raise
        return missing
    for line in output.splitlines():
        match = _SHA.match(line)
        if match:  # keep imported objects reachable so gc never prunes them
            repo.git.update_ref(import_ref(match.group(0)), match.group(0))
    return []


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
        missing = await asyncio.to_thread(_unbundle, repo, path)
        for prerequisite in missing:
            await ensure_commit(bus, repo, prerequisite, campaign, depth + 1)
        if missing:
            await asyncio.to_thread(_unbundle, repo, path)
    if not has_commit(repo, commit):
        raise MissingObjects(f"bundle for {commit} did not contain it")


def show_file(repo: git.Repo, commit: str, path: str) -> str:
    """A file's text at a commit; MissingObjects when it is not there."""
    try:
        return repo.git.show(f"{commit}:{path}", strip_newline_in_stdout=False)
    except git.GitCommandError:
        raise MissingObjects(f"{path} does not exist at {commit[:7]}") from None
