"""Settings every service shares, read from the environment and failing fast on bad values."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TypeVar

from pydantic import AliasChoices, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|CREDS)", re.IGNORECASE)
LLM_PREFIX = "AUTORESEARCH_LLM_"


def is_secret_name(name: str) -> bool:
    """True for an environment variable whose name says it holds a secret (an API key, a token, credentials)."""
    return bool(_SECRET_NAME.search(name))


class SettingsError(Exception):
    """A setting has a bad value; the message names it."""


class ServiceSettings(BaseSettings):
    """Connection and identity settings common to all services."""

    model_config = SettingsConfigDict(env_prefix="AUTORESEARCH_", extra="ignore", env_ignore_empty=True)

    nats_url: str = Field(default="nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "AUTORESEARCH_NATS_URL"))
    nats_creds: str | None = Field(default=None, validation_alias=AliasChoices("NATS_CREDS", "AUTORESEARCH_NATS_CREDS"))
    # TLS to the server: the CA that signed its certificate, and this client's certificate and key for mutual TLS
    nats_tls_ca: str | None = Field(default=None, validation_alias=AliasChoices("NATS_TLS_CA", "AUTORESEARCH_NATS_TLS_CA"))
    nats_tls_cert: str | None = Field(default=None, validation_alias=AliasChoices("NATS_TLS_CERT", "AUTORESEARCH_NATS_TLS_CERT"))
    nats_tls_key: str | None = Field(default=None, validation_alias=AliasChoices("NATS_TLS_KEY", "AUTORESEARCH_NATS_TLS_KEY"))
    state_dir: Path = Field(default=Path(".autoresearch"), description="Where this service keeps its own files.")
    instance: str = Field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")


T = TypeVar("T", bound="ServiceSettings")


def load_settings(cls: type[T], **overrides: object) -> T:
    """Build settings from the environment plus explicit overrides (None means unset)."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"invalid {cls.__name__}: {problems}") from None
