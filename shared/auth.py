"""A folder of bus credentials: one nkey seed per role, and the nats-server configuration that knows them.

The seeds are the secrets (folder 0700, files 0600); the server configuration holds only public keys and each
role's permissions, so it can be shown, copied to a server or kept in a repository.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import nkeys

from shared.permissions import ROLES, permissions

SEED_SUFFIX = ".nk"
SERVER_CONFIG = "nats.conf"


class CredentialFolderError(Exception):
    """The credentials folder is missing, unreadable or incomplete; the message says which file."""


def seed_path(folder: Path, role: str) -> Path:
    """Where a role's seed lives in the folder."""
    return folder / f"{role}{SEED_SUFFIX}"


def _new_seed() -> bytes:
    """A fresh user nkey seed (`SU...`): an Ed25519 key is 32 random bytes."""
    return nkeys.encode_seed(secrets.token_bytes(32), nkeys.PREFIX_BYTE_USER)


def _write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner may read, never readable by others even for a moment."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def public_key(seed_file: Path) -> str:
    """The public key of the seed in a file."""
    try:
        seed = bytearray(seed_file.read_bytes().strip())
        pair = nkeys.from_seed(seed)
    except OSError as exc:
        raise CredentialFolderError(f"cannot read {seed_file}: {exc.__class__.__name__}") from None
    except Exception:  # nkeys' own errors: the file is not a seed
        raise CredentialFolderError(f"{seed_file} does not hold an nkey seed") from None
    key = pair.public_key.decode()
    pair.wipe()
    return key


def ensure_credentials(folder: Path) -> dict[str, Path]:
    """Make a seed for every role that has none in folder (kept as they are otherwise); return each role's file."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # a folder made earlier, or by a looser umask, is closed too
    files = {}
    for role in ROLES:
        path = seed_path(folder, role)
        if not path.exists():
            _write_private(path, _new_seed() + b"\n")
        path.chmod(0o600)
        files[role] = path
    return files


def credential_files(folder: Path) -> dict[str, Path]:
    """Each role's seed file in folder, which must hold them all."""
    missing = [role for role in ROLES if not seed_path(folder, role).is_file()]
    if missing:
        raise CredentialFolderError(
            f"{folder} has no credentials for {', '.join(missing)}: create them with `autoresearch creds init --dir {folder}`"
        )
    return {role: seed_path(folder, role) for role in ROLES}


def _allow(kind: str, subjects: tuple[str, ...]) -> list[str]:
    """`publish` or `subscribe` with its allow list, one quoted subject a line (`$` unquoted would name a variable)."""
    return [f"      {kind}: {{allow: [", *(f"        {json.dumps(subject)}" for subject in subjects), "      ]}"]


def server_config(folder: Path) -> str:
    """The nats-server `authorization` block for the credentials in folder: public keys and permissions only."""
    lines = ["# autoresearch bus users: public nkeys and what each may publish and subscribe to.",
             "# Made by `autoresearch creds config`; the seeds stay in the credentials folder.",
             "authorization {", "  users = ["]
    for role, path in credential_files(folder).items():
        allowed = permissions(role)
        lines.append(f"    # {role}")
        if allowed is None:
            lines.append(f"    {{nkey: {public_key(path)}}}")
        else:
            lines += [f"    {{nkey: {public_key(path)}, permissions: {{", *_allow("publish", allowed.publish),
                      *_allow("subscribe", allowed.subscribe), "    }}"]
    lines += ["  ]", "}", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class BusCredentials:
    """The credentials `up` uses for its embedded server: one seed per role and the server's configuration."""

    folder: Path
    files: dict[str, Path]
    config: Path

    @classmethod
    def prepare(cls, folder: Path) -> BusCredentials:
        """Make whatever seeds are missing and write the server configuration afresh (permissions may have changed)."""
        files = ensure_credentials(folder)
        config = folder / SERVER_CONFIG
        text = server_config(folder)
        config.unlink(missing_ok=True)
        _write_private(config, text.encode())
        return cls(folder, files, config)

    def file(self, role: str) -> str:
        """The path of a role's seed file."""
        return str(self.files[role])
