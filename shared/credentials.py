"""How a client proves who it is to NATS: one credentials file of any kind, and TLS files, as nats.connect options.

NATS_CREDS names one file, whatever its kind:

- a `.creds` file (a user JWT and its seed, as `nsc` writes them) for servers run in operator mode;
- an nkey seed file (a line starting `SU`, as `autoresearch creds init` writes them);
- a user and password file: a line `user=NAME` and a line `password=SECRET`.

The secret stays in the file: only its path is passed around (never a command line, a log or an event).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JWT_MARKER = "-----BEGIN NATS USER JWT-----"
SEED_PREFIX = "SU"  # an nkey seed (S) of a user (U)


class CredentialsError(Exception):
    """A credentials or TLS file cannot be used; the message names the file, never its contents."""


@dataclass(frozen=True)
class TlsFiles:
    """The files of a TLS connection: the CA to trust, and this client's certificate and key (for mutual TLS)."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> TlsFiles | None:
        """NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY; None when none is set."""
        env = os.environ if environ is None else environ
        files = cls(env.get("NATS_TLS_CA") or None, env.get("NATS_TLS_CERT") or None, env.get("NATS_TLS_KEY") or None)
        return files if files.given else None

    @property
    def given(self) -> bool:
        """True when any TLS file is named."""
        return any((self.ca, self.cert, self.key))

    def context(self) -> ssl.SSLContext:
        """An SSL context that trusts the CA (else the system's) and presents the client certificate, if any."""
        if bool(self.cert) != bool(self.key):
            raise CredentialsError("NATS_TLS_CERT and NATS_TLS_KEY go together: give both or neither")
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca)
            if self.cert:
                context.load_cert_chain(self.cert, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise CredentialsError(f"cannot use the TLS files ({exc.__class__.__name__}: {exc})") from None
        return context


def _read_user_password(path: Path, text: str) -> dict[str, str]:
    """user= and password= lines; anything else in the file is refused."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or name.strip() not in ("user", "password"):
            raise CredentialsError(f"{path}: not a .creds, nkey seed or user/password file")
        fields[name.strip()] = value.strip()
    if not fields.get("user") or "password" not in fields:
        raise CredentialsError(f"{path}: a user/password file needs a `user=` and a `password=` line")
    return fields


def credential_options(creds: str | Path) -> dict[str, Any]:
    """nats.connect options for one credentials file, chosen by what the file holds."""
    path = Path(creds).expanduser()
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read the NATS credentials file {path}: {exc.__class__.__name__}") from None
    if JWT_MARKER in text:
        return {"user_credentials": str(path)}
    seeds = [line.strip() for line in text.splitlines() if line.strip().startswith(SEED_PREFIX)]
    if seeds:
        return {"nkeys_seed_str": seeds[0]}
    fields = _read_user_password(path, text)
    return {"user": fields["user"], "password": fields["password"]}


def connect_options(creds: str | Path | None = None, tls: TlsFiles | None = None) -> dict[str, Any]:
    """nats.connect options for the credentials file and TLS files given (none: an anonymous, plain connection)."""
    options: dict[str, Any] = credential_options(creds) if creds else {}
    if tls is not None and tls.given:
        options["tls"] = tls.context()
    return options
