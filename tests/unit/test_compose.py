"""docker-compose.yml and the Dockerfile, checked by reading them (no Docker engine runs here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from services.trainer.workspace_config import WorkspaceConfig

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("proposer", "editor", "trainer", "evaluator", "ledger")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def mounts(service: dict) -> dict[str, tuple[str, str | None]]:
    """Each mount of a service: target -> (source, subpath), from the short or the long syntax."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, str):  # source:target, where the source may hold ${VARIABLE:-default}
            source, target = volume.removesuffix(":ro").rsplit(":", 1)
            found[target] = (source, None)
        else:
            found[volume["target"]] = (volume["source"], volume.get("volume", {}).get("subpath"))
    return found


def test_nats_runs_jetstream_with_a_data_volume(compose: dict) -> None:
    nats = compose["services"]["nats"]
    assert nats["image"].startswith("nats:")
    assert "-js" in nats["command"]
    store = nats["command"][nats["command"].index("-sd") + 1]
    assert mounts(nats)[store][0] in compose["volumes"]


def cli_args(service: dict) -> list[str]:
    """The autoresearch command line a service runs: the trainer's names the program, its entrypoint runs it."""
    command = service["command"]
    return command[1:] if command[0] == "autoresearch" else command


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_runs_its_own_command_against_nats(compose: dict, name: str) -> None:
    service = compose["services"][name]
    assert cli_args(service)[:2] == ["service", name]
    assert service["environment"]["NATS_URL"] == "nats://nats:4222"
    assert service["depends_on"]["nats"] == {"condition": "service_healthy"}
    assert service["depends_on"]["streams"] == {"condition": "service_completed_successfully"}
    assert service["build"]["context"] == "."


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_mounts_only_its_own_credential(compose: dict, name: str) -> None:
    service = compose["services"][name]
    creds = service["environment"]["NATS_CREDS"]
    assert mounts(service)[creds] == ("creds", f"{name}.nk")
    assert [target for target, (source, _) in mounts(service).items() if source == "creds"] == [creds]


def test_nats_starts_with_the_generated_configuration_and_admits_no_one_else(compose: dict) -> None:
    services = compose["services"]
    nats = services["nats"]
    config = nats["command"][nats["command"].index("-c") + 1]
    assert mounts(nats)[config] == ("creds", "nats.conf")
    assert services["creds"]["command"][:3] == ["creds", "init", "--dir"]
    assert mounts(services["creds"])[services["creds"]["command"][3]] == ("creds", None)
    assert nats["depends_on"]["creds"] == {"condition": "service_completed_successfully"}
    assert "creds" in compose["volumes"]


def test_nats_publishes_no_port_and_reports_its_health(compose: dict) -> None:
    nats = compose["services"]["nats"]
    assert "ports" not in nats
    assert nats["command"][nats["command"].index("-m") + 1] == "8222"
    assert "http://127.0.0.1:8222/healthz" in nats["healthcheck"]["test"]
    assert "# ports: [\"127.0.0.1:4222:4222\"]" in (ROOT / "docker-compose.yml").read_text()


def test_the_streams_are_set_up_once_with_the_admin_credential(compose: dict) -> None:
    streams = compose["services"]["streams"]
    assert streams["command"] == ["streams"]
    assert mounts(streams)[streams["environment"]["NATS_CREDS"]] == ("creds", "admin.nk")
    assert streams["depends_on"]["nats"] == {"condition": "service_healthy"}
    assert streams["restart"] == "no"


def test_nothing_listens_on_every_interface_of_the_host(compose: dict) -> None:
    published = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert published and all(str(port).startswith("127.0.0.1:") for port in published)


def test_trainer_leaves_the_workspace_settings_to_autoresearch_toml(compose: dict) -> None:
    environment = compose["services"]["trainer"]["environment"]
    for field in WorkspaceConfig.model_fields:
        variable = f"AUTORESEARCH_{field.upper()}"
        assert environment.get(variable, f"${{{variable}:-}}") == f"${{{variable}:-}}", variable


def test_only_the_trainer_holds_the_gpu_and_the_workspace(compose: dict) -> None:
    for name in SERVICES:
        service = compose["services"][name]
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        mounts_workspace = "/workspace" in mounts(service)
        holds_gpu = any("gpu" in d.get("capabilities", []) for d in devices)
        assert (holds_gpu, mounts_workspace) == ((True, True) if name == "trainer" else (False, False)), name
    assert "--workspace" in compose["services"]["trainer"]["command"]
    assert "AUTORESEARCH_TAG" in compose["services"]["trainer"]["environment"]


def test_ledger_publishes_its_api_port_on_the_loopback_only(compose: dict) -> None:
    ledger = compose["services"]["ledger"]
    port = ledger["command"][ledger["command"].index("--http-port") + 1]
    assert ledger["ports"] == [f"127.0.0.1:{port}:{port}"]
    assert ledger["command"][ledger["command"].index("--http-host") + 1] == "0.0.0.0"


def test_proposers_can_scale(compose: dict) -> None:
    proposer = compose["services"]["proposer"]
    assert "container_name" not in proposer and "ports" not in proposer


def test_evaluator_has_a_vram_budget_for_a_24_gb_card_that_its_settings_accept(compose: dict, monkeypatch) -> None:
    from services.evaluator.main import EvaluatorSettings

    environment = compose["services"]["evaluator"]["environment"]
    for name, value in environment.items():
        if name.startswith("AUTORESEARCH_"):
            default = value.split(":-", 1)[1].rstrip("}") if ":-" in value else value
            monkeypatch.setenv(name, default)
    rule = EvaluatorSettings().rule()
    assert (rule.vram_budget_gb, rule.name, rule.baseline_runs) == (23.0, "sprt", 3)


def long_running(compose: dict) -> list[str]:
    """Services that stay up (restarted when they stop), as opposed to one-shots and profiles' commands."""
    return [name for name, service in compose["services"].items() if service.get("restart") == "unless-stopped"]


def test_every_long_running_service_reports_its_health(compose: dict) -> None:
    assert set(SERVICES) | {"nats"} <= set(long_running(compose))
    for name in long_running(compose):
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1, name


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_is_checked_by_its_own_heartbeat_in_its_own_state_folder(compose: dict, name: str) -> None:
    service = compose["services"][name]
    test = service["healthcheck"]["test"]
    args = cli_args(service)
    assert test[1:4] == ["autoresearch", "service-health", name]
    assert test[test.index("--state-dir") + 1] == args[args.index("--state-dir") + 1]


def test_the_ledger_is_healthy_only_while_its_api_answers(compose: dict) -> None:
    ledger = compose["services"]["ledger"]
    port = cli_args(ledger)[cli_args(ledger).index("--http-port") + 1]
    test = ledger["healthcheck"]["test"]
    assert test[test.index("--url") + 1] == f"http://127.0.0.1:{port}/healthz"


def test_services_wait_for_what_they_need_to_be_healthy_or_done_never_merely_started(compose: dict) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: a bare list waits only for containers to start"
        for needed, how in depends_on.items():
            condition = how["condition"]
            assert condition in ("service_healthy", "service_completed_successfully"), (name, needed)
            if condition == "service_healthy":
                assert "healthcheck" in services[needed], (name, needed)
            else:
                assert services[needed]["restart"] == "no", (name, needed)


def test_the_trainer_writes_results_tsv_into_the_workspace_and_the_ledger_writes_none_there(compose: dict) -> None:
    trainer, ledger = cli_args(compose["services"]["trainer"]), cli_args(compose["services"]["ledger"])
    workspace = trainer[trainer.index("--workspace") + 1]
    assert trainer[trainer.index("--results") + 1] == f"{workspace}/results.tsv"
    assert "--results" not in ledger and workspace not in mounts(compose["services"]["ledger"])


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="Docker Compose is not installed",
)
def test_docker_compose_accepts_the_file() -> None:
    done = subprocess.run(["docker", "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                          capture_output=True, text=True, env={**os.environ, "AUTORESEARCH_TAG": "nov27"})
    assert done.returncode == 0, done.stderr
