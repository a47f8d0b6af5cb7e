"""The few git commands a workspace needs, run through the git executable."""

import subprocess
from pathlib import Path

from autoresearch.workspace.errors import InitError

# An identity and no signing, so a first commit works on a machine with no git config.
_COMMIT_OPTIONS = ["-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost", "-c", "commit.gpgsign=false"]


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one git command in repo and return its result."""
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise InitError("git is not installed or not on PATH; a workspace is a git repository") from None
    if check and result.returncode != 0:
        raise InitError(f"git {' '.join(args)} failed in {repo}: {result.stderr.strip()}")
    return result


def make_first_commit(repo: Path, message: str) -> None:
    """Turn repo into a git repository whose one commit holds every file not ignored."""
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, *_COMMIT_OPTIONS, "commit", "--quiet", "-m", message)


def is_repository_root(path: Path) -> bool:
    """Whether path is the top folder of a git working tree."""
    result = git(path, "rev-parse", "--show-toplevel", check=False)
    return result.returncode == 0 and Path(result.stdout.strip()).resolve() == path.resolve()


def has_commits(repo: Path) -> bool:
    """Whether the repository's HEAD points at a commit."""
    return git(repo, "rev-parse", "--verify", "--quiet", "HEAD", check=False).returncode == 0


def tracked_files(repo: Path, *paths: str) -> list[str]:
    """The given paths that git tracks in repo."""
    return git(repo, "ls-files", "--", *paths).stdout.split()
