"""A folder of wheels for `scripts/gpu-check --wheels DIR` on a GPU machine without network access.

It holds what the project needs except torch (the GPU machine's own CUDA build is used), for that machine's
Python on Linux x86_64, resolved here with pip. Packages the target already has can be left out with --have FILE
(the target's `pip list --format=freeze`, or one name per line), which keeps the folder small enough to carry.

    .venv/bin/python bench/gpu_check_wheels.py DIR [--python-version 3.12] [--have FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
BUILD = "setuptools>=68"  # the project's build backend, for its editable install there
_MISSING = re.compile(r"No matching distribution found for ([A-Za-z0-9._-]+)")


def normalized(name: str) -> str:
    """A package name as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements() -> list[str]:
    """The project's own dependencies (not the train extra: torch is the target's) and its build backend."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [*project["dependencies"], BUILD]


def target_flags(python_version: str) -> list[str]:
    """pip's flags for wheels of the target's CPython on Linux x86_64."""
    flags = ["--only-binary=:all:", "--python-version", python_version, "--implementation", "cp"]
    return flags + [part for platform in PLATFORMS for part in ("--platform", platform)]


def resolve(folder: Path, python_version: str) -> dict[str, str]:
    """Every package of the closure and its version; a package published only as source is built into folder first."""
    for _ in range(10):
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "report.json"
            done = subprocess.run(
                [sys.executable, "-m", "pip", "install", "--isolated", "--disable-pip-version-check", "--dry-run", "--ignore-installed", "--quiet",
                 "--target", scratch, "--report", str(report), "--find-links", str(folder),
                 *target_flags(python_version), *requirements()], capture_output=True, text=True)
            if done.returncode == 0:
                found = json.loads(report.read_text())["install"]
                return {item["metadata"]["name"]: item["metadata"]["version"] for item in found}
        missing = _MISSING.search(done.stderr)
        if missing is None:
            raise SystemExit(f"pip could not resolve the project's dependencies:\n{done.stderr[-2000:]}")
        # Pure-Python packages without a wheel (nkeys) are built here into one that installs anywhere.
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--isolated", "--disable-pip-version-check", "--no-deps", "--quiet", "-w", str(folder),
                        missing.group(1)], check=True)
    raise SystemExit("too many packages without a wheel")


def have(file: Path | None) -> set[str]:
    """Names the target already has, from a `pip list --format=freeze` or one name a line."""
    if file is None:
        return set()
    names = (re.split(r"[=<>@ ]", line.strip(), maxsplit=1)[0] for line in file.read_text().splitlines())
    return {normalized(name) for name in names if name and not name.startswith("#")}


def main() -> None:
    """Resolve, leave out what the target has, download the rest into the folder."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--python-version", default="3.12", help="The target's Python, e.g. 3.12.")
    parser.add_argument("--have", type=Path, help="The target's packages, one a line (pip list --format=freeze).")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    closure = resolve(args.folder, args.python_version)
    skipped = have(args.have)
    wanted = [f"{name}=={version}" for name, version in closure.items() if normalized(name) not in skipped]
    built = {normalized(path.name.split("-")[0]) for path in args.folder.glob("*.whl")}
    wanted = [spec for spec in wanted if normalized(spec.split("==")[0]) not in built]
    subprocess.run([sys.executable, "-m", "pip", "download", "--isolated", "--disable-pip-version-check", "--no-deps", "--quiet", "-d", str(args.folder),
                    *target_flags(args.python_version), *wanted], check=True)
    size = sum(path.stat().st_size for path in args.folder.glob("*.whl"))
    left = sorted(name for name in closure if normalized(name) in skipped)
    print(f"{len(list(args.folder.glob('*.whl')))} wheels, {size / 2**20:.1f} MiB, in {args.folder}; "
          f"left out as already there: {', '.join(left) or 'none'}")


if __name__ == "__main__":
    main()
