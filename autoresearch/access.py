"""Which credentials `up` and the services it starts present to NATS.

- The embedded server: `up` makes one credential per role in <state>/creds and uses the admin's itself; each
  service is given only its own file, its event tail the read-only monitor's.
- Your own server (NATS_URL): AUTORESEARCH_CREDS_DIR names a folder made by `autoresearch creds init` (the
  same roles); else NATS_CREDS, if set, is used by `up` and every service alike; else no credentials at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.auth import BusCredentials, credential_files
from shared.credentials import TlsFiles, connect_options
from shared.permissions import MONITOR

CREDS_DIR_VARIABLE = "AUTORESEARCH_CREDS_DIR"
NATS_ACCESS_VARIABLES = ("NATS_CREDS", "NATS_TLS_CA", "NATS_TLS_CERT", "NATS_TLS_KEY")


@dataclass(frozen=True)
class UpAccess:
    """The credentials file of each role (none: the same for everyone), and the TLS files."""

    shared: str | None = None  # the one file everybody uses, when there is no file per role
    roles: Mapping[str, str] = field(default_factory=dict)
    tls: TlsFiles | None = None
    embedded: bool = False  # `up`'s own server: nothing set for another server applies to it

    @classmethod
    def for_embedded(cls, credentials: BusCredentials) -> UpAccess:
        """Every role its own file from the folder `up` made for its embedded server; no TLS on the loopback."""
        return cls(roles={role: str(path) for role, path in credentials.files.items()}, embedded=True)

    @classmethod
    def for_external(cls, environ: Mapping[str, str] | None = None) -> UpAccess:
        """From the environment, for the server NATS_URL names."""
        env = os.environ if environ is None else environ
        tls = TlsFiles.from_environment(dict(env))
        folder = env.get(CREDS_DIR_VARIABLE)
        if folder:
            return cls(roles={role: str(path) for role, path in credential_files(Path(folder)).items()}, tls=tls)
        return cls(shared=env.get("NATS_CREDS") or None, tls=tls)

    def creds(self, role: str) -> str | None:
        """The credentials file a role uses."""
        return self.roles.get(role, self.shared)

    def options(self, role: str) -> dict[str, Any]:
        """nats.connect options for a connection of this role (`up` itself is the admin, its event tail a monitor)."""
        return connect_options(self.creds(role), self.tls)

    def service_environment(self, environ: Mapping[str, str], role: str) -> dict[str, str]:
        """A service's environment with its own credentials file in NATS_CREDS, and no one else's."""
        env = dict(environ)
        if self.embedded:
            for name in NATS_ACCESS_VARIABLES:  # meant for another server
                env.pop(name, None)
        if role in self.roles:
            env["NATS_CREDS"] = self.roles[role]
        return env

    def monitor_hint(self, url: str) -> str | None:
        """How to watch the bus with the read-only credential, if there is one."""
        path = self.roles.get(MONITOR)
        if path is None:
            return None
        return f"read-only credential for watchers: {path}  (nats --server {url} --nkey {path} sub 'run.*')"

