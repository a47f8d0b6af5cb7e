"""The Dockerfile's two images, read as stages (no Docker engine runs here), and what docker-compose.yml asks of them."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field

import pytest

from tests.unit.test_compose import ROOT, SERVICES, compose, mounts  # noqa: F401 (compose is a fixture)

ENTRYPOINT = ROOT / "docker" / "trainer-entrypoint.sh"


@dataclass
class Stage:
    """One FROM ... AS name section: its base and its instructions, continuation lines joined."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for word, rest in self.instructions if word == keyword]


def stages() -> dict[str, Stage]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found: dict[str, Stage] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            parts = rest.split()
            current = Stage(parts[-1] if len(parts) == 3 else f"stage{len(found)}", parts[0])
            found[current.name] = current
        elif current is not None:
            current.instructions.append((word.upper(), rest.strip()))
    return found


def lineage(name: str) -> list[Stage]:
    """The stage and the stages it is built on, itself first."""
    found, chain = stages(), []
    while name in found:
        chain.append(found[name])
        name = found[name].base
    return chain


def effective(name: str, keyword: str) -> str | None:
    """The last value of an instruction that a stage sets or inherits (USER, ENTRYPOINT, ...)."""
    return next((stage.all(keyword)[-1] for stage in lineage(name) if stage.all(keyword)), None)


def environment(name: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for stage in reversed(lineage(name)):
        for rest in stage.all("ENV"):
            env.update(part.split("=", 1) for part in shlex.split(rest))
    return env


@pytest.mark.parametrize("target", ["services", "trainer"])
def test_each_image_runs_as_a_user_who_is_not_root(compose: dict, target: str) -> None:
    user = effective(target, "USER")
    assert user not in (None, "root", "0") and not user.startswith(("root:", "0:"))
    runs = " ".join(rest for stage in lineage(target) for rest in stage.all("RUN"))
    assert re.search(rf"useradd [^&]*\b{user}\b", runs)
    assert {service["build"]["target"] for service in compose["services"].values() if "build" in service} == {
        "services", "trainer"}


def test_the_users_uid_and_gid_are_build_arguments_compose_passes_to_both_images(compose: dict) -> None:
    base = lineage("trainer")[-1]
    assert {"AUTORESEARCH_UID=1000", "AUTORESEARCH_GID=1000"} <= set(base.all("ARG"))
    assert base.name == lineage("services")[-1].name
    for name in (*SERVICES, "creds", "streams"):
        assert set(compose["services"][name]["build"]["args"]) >= {"AUTORESEARCH_UID", "AUTORESEARCH_GID"}, name


def test_torch_is_installed_in_the_trainers_image_only() -> None:
    def installs(stage: Stage) -> str:
        return " ".join(rest for rest in stage.all("RUN") if "pip install" in rest)

    trainer_only = lineage("trainer")[0]
    assert re.search(r'"torch==\$\{TORCH_VERSION\}"', installs(trainer_only)) and '".[train]"' in installs(trainer_only)
    assert any(arg.startswith("TORCH_VERSION=") for arg in trainer_only.all("ARG"))
    for stage in [*lineage("services"), *lineage("trainer")[1:]]:
        assert "torch" not in installs(stage) and "[train]" not in installs(stage), stage.name


def test_the_trainers_image_has_git_and_uv() -> None:
    runs = " ".join(rest for stage in lineage("trainer") for rest in stage.all("RUN"))
    assert re.search(r"apt-get install .*\bgit\b", runs)
    assert '"uv==${UV_VERSION}"' in runs


def test_the_trainer_starts_through_its_entrypoint_and_the_services_through_the_cli() -> None:
    assert effective("trainer", "ENTRYPOINT") == '["trainer-entrypoint"]'
    assert any(rest.split()[-1] == "/usr/local/bin/trainer-entrypoint" and "docker/trainer-entrypoint.sh" in rest
               for rest in lineage("trainer")[0].all("COPY"))
    assert effective("services", "ENTRYPOINT") == '["autoresearch"]'
    assert list(stages())[-1] == "services"  # a plain `docker build .` makes the small image


def test_uvs_environment_and_cache_live_in_separate_volumes_of_the_trainer(compose: dict) -> None:
    env, trainer = environment("trainer"), mounts(compose["services"]["trainer"])

    def volume_holding(path: str) -> str:
        target = max((t for t in trainer if path == t or path.startswith(t + "/")), key=len)
        assert trainer[target][0] in compose["volumes"], path
        return trainer[target][0]

    holders = {volume_holding(env[name]) for name in ("UV_PROJECT_ENVIRONMENT", "UV_CACHE_DIR")}
    assert len(holders) == 2
    assert volume_holding(env["UV_PYTHON_INSTALL_DIR"]) == volume_holding(env["UV_PROJECT_ENVIRONMENT"])


def test_the_trainers_caches_are_named_volumes_that_outlive_its_container(compose: dict) -> None:
    trainer = mounts(compose["services"]["trainer"])
    for target in ("/home/autoresearch/.cache/autoresearch", "/home/autoresearch/.cache/uv",
                   "/home/autoresearch/.local/share/uv", "/home/autoresearch/.cache/huggingface"):
        assert trainer[target][0] in compose["volumes"], target
    assert len({trainer[target][0] for target in trainer if target.startswith("/home/")}) == 4


def test_prepare_fills_the_trainers_data_cache_once_and_is_never_started_by_up(compose: dict) -> None:
    prepare, trainer = compose["services"]["trainer-prepare"], compose["services"]["trainer"]
    assert prepare["profiles"] and prepare["restart"] == "no"
    assert prepare["command"] == ["uv", "run", "prepare.py"]
    assert prepare["image"] == trainer["image"] and prepare["build"] == trainer["build"]
    workspace = mounts(trainer)["/workspace"]
    assert prepare["working_dir"] == "/workspace" and mounts(prepare)["/workspace"] == workspace
    for target in ("/home/autoresearch/.cache/autoresearch", "/home/autoresearch/.cache/uv",
                   "/home/autoresearch/.local/share/uv"):
        assert mounts(prepare)[target] == mounts(trainer)[target], target


def test_the_entrypoint_is_an_executable_bash_script_that_parses() -> None:
    assert ENTRYPOINT.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.access(ENTRYPOINT, os.X_OK)
    assert subprocess.run(["bash", "-n", str(ENTRYPOINT)], capture_output=True).returncode == 0


def test_docker_ignores_the_local_environment_and_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".autoresearch", "workspace"} <= set(ignored)
