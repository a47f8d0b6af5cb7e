"""Bus credentials: one file of any kind, a folder of seeds per role, and who may say what."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from autoresearch.access import UpAccess
from shared.auth import BusCredentials, credential_files, ensure_credentials, public_key, server_config
from shared.credentials import CredentialsError, TlsFiles, connect_options, credential_options
from shared.events import EVENT_TYPES
from shared.permissions import ADMIN, MONITOR, PUBLISHES, ROLES, SERVICE_ROLES, event_subjects, permissions

JWT_FILE = """-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln
------END NATS USER JWT------

-----BEGIN USER NKEY SEED-----
SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4
------END USER NKEY SEED------
"""


def test_a_creds_file_is_given_to_nats_as_user_credentials(tmp_path: Path) -> None:
    path = tmp_path / "service.creds"
    path.write_text(JWT_FILE)
    assert connect_options(path) == {"user_credentials": str(path)}


def test_an_nkey_seed_file_is_read_past_its_comments(tmp_path: Path) -> None:
    seed = ensure_credentials(tmp_path / "creds")["trainer"].read_text().strip()
    path = tmp_path / "trainer.nk"
    path.write_text(f"# the trainer's seed\n\n{seed}\n")
    assert connect_options(path) == {"nkeys_seed_str": seed}


def test_a_user_and_password_file_gives_both(tmp_path: Path) -> None:
    path = tmp_path / "bus.login"
    path.write_text("# for the shared server\nuser = trainer\npassword = s3cr=t\n")
    assert connect_options(path) == {"user": "trainer", "password": "s3cr=t"}


@pytest.mark.parametrize("text", ["hunter2\n", "user=only\n", "token=abc\npassword=x\n"])
def test_a_file_of_no_known_kind_is_refused_without_showing_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "odd"
    path.write_text(text)
    with pytest.raises(CredentialsError) as refused:
        credential_options(path)
    assert str(path) in str(refused.value)
    assert not any(secret in str(refused.value) for secret in ("hunter2", "only", "abc"))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read the NATS credentials file"):
        connect_options(tmp_path / "absent.nk")


def test_tls_files_come_from_the_environment_and_are_none_without_them() -> None:
    assert TlsFiles.from_environment({"NATS_TLS_CA": "/ca.pem"}) == TlsFiles("/ca.pem", None, None)
    assert TlsFiles.from_environment({"NATS_URL": "tls://x"}) is None


def test_every_event_has_exactly_one_role_that_may_publish_it() -> None:
    owners = [subject for events in PUBLISHES.values() for subject in (kind.subject for kind in events)]
    assert sorted(owners) == sorted(EVENT_TYPES)
    assert event_subjects("ledger") == event_subjects(MONITOR) == ()


@pytest.mark.parametrize("role", [*SERVICE_ROLES, MONITOR])
def test_no_role_but_the_admin_may_create_change_or_delete_a_stream(role: str) -> None:
    allowed = permissions(role)
    assert allowed is not None and permissions(ADMIN) is None
    for subject in allowed.publish:
        assert not re.match(r"\$JS\.API\.(STREAM\.(CREATE|UPDATE|DELETE|MSG\.DELETE)|ACCOUNT|SERVER)", subject), subject
        assert not subject.startswith("$JS.API.STREAM.PURGE.") or subject == "$JS.API.STREAM.PURGE.OBJ_autoresearch-objects"
        assert ">" not in subject.split(".")[0] and subject not in (">", "*.>", "$JS.API.>")
    publishes_events = {subject for subject in allowed.publish if subject in EVENT_TYPES}
    assert publishes_events == set(event_subjects(role))


def test_only_the_editor_and_the_trainer_write_the_bundle_store() -> None:
    writers = {role for role in ROLES if role != ADMIN and any(s.startswith("$O.") for s in permissions(role).publish)}
    assert writers == {"editor", "trainer"}


def test_the_folder_is_private_and_kept_across_calls(tmp_path: Path) -> None:
    folder = tmp_path / "creds"
    first = {role: path.read_text() for role, path in ensure_credentials(folder).items()}
    (folder / "monitor.nk").unlink()
    second = {role: path.read_text() for role, path in ensure_credentials(folder).items()}
    assert set(first) == set(ROLES) and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in folder.iterdir())
    assert {role: text for role, text in second.items() if role != MONITOR} == {r: t for r, t in first.items() if r != MONITOR}
    assert second[MONITOR] != first[MONITOR]


def test_the_server_configuration_names_public_keys_and_no_seed(tmp_path: Path) -> None:
    credentials = BusCredentials.prepare(tmp_path / "creds")
    config = credentials.config.read_text()
    assert config == server_config(credentials.folder)
    for role, path in credentials.files.items():
        assert public_key(path) in config and path.read_text().strip() not in config, role
    assert stat.S_IMODE(credentials.config.stat().st_mode) == 0o600


def test_an_incomplete_folder_names_what_is_missing(tmp_path: Path) -> None:
    folder = tmp_path / "creds"
    ensure_credentials(folder)
    (folder / "editor.nk").unlink()
    with pytest.raises(Exception, match="no credentials for editor"):
        credential_files(folder)


def test_up_gives_each_service_its_own_file_and_drops_another_servers_tls(tmp_path: Path) -> None:
    access = UpAccess.for_embedded(BusCredentials.prepare(tmp_path / "creds"))
    base = {"NATS_CREDS": "/elsewhere.creds", "NATS_TLS_CA": "/ca.pem", "NATS_URL": "nats://127.0.0.1:4222", "PATH": "/bin"}
    for role in SERVICE_ROLES:
        env = access.service_environment(base, role)
        assert env["NATS_CREDS"] == str(tmp_path / "creds" / f"{role}.nk")
        assert "NATS_TLS_CA" not in env and env["NATS_URL"] == base["NATS_URL"]
    assert access.creds(ADMIN) == str(tmp_path / "creds" / "admin.nk")


def test_up_on_another_server_uses_one_shared_file_or_none() -> None:
    shared = UpAccess.for_external({"NATS_CREDS": "/c.creds", "NATS_TLS_CA": "/ca.pem"})
    assert shared.creds("trainer") == shared.creds(ADMIN) == "/c.creds" and shared.tls == TlsFiles("/ca.pem")
    assert shared.service_environment({"NATS_CREDS": "/c.creds"}, "trainer") == {"NATS_CREDS": "/c.creds"}
    assert UpAccess.for_external({}).creds(ADMIN) is None
