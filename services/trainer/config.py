"""Trainer settings: flags, then the environment, then the workspace's autoresearch.toml, then the defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource

from services.trainer.containment import plan
from services.trainer.provenance import DEFAULT_EVALUATION, EVALUATION_PATTERN
from services.trainer.workspace_config import load_workspace_config
from shared.events import CAMPAIGN_PATTERN, NAME_MAX
from shared.settings import ServiceSettings

DEFAULT_TRAIN_COMMAND = "uv run train.py"


class WorkspaceFileSource(PydanticBaseSettingsSource):
    """The [workspace] table of autoresearch.toml in the workspace that the sources above it name."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: the table is read whole in __call__."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        workspace = self.current_state.get("workspace")
        if workspace is None:
            return {}
        return load_workspace_config(Path(workspace)).model_dump(exclude_none=True)


def variable_names(given: str | list[str] | tuple[str, ...]) -> list[str]:
    """Environment variable names from a string, or strings, separated by commas or spaces."""
    items = [given] if isinstance(given, str) else given
    return [name for item in items for name in item.replace(",", " ").split()]


class TrainerSettings(ServiceSettings):
    """How the trainer runs experiments in its workspace; loading raises SettingsError on a bad autoresearch.toml."""

    workspace: Path = Field(description="Git working tree holding train.py.")
    tag: str = Field(pattern=CAMPAIGN_PATTERN, description="Campaign tag; the branch is autoresearch/<tag>.")
    train_command: str = Field(default=DEFAULT_TRAIN_COMMAND, min_length=1)
    run_timeout: float = Field(default=600.0, gt=0, description="Seconds before a run is killed as a timeout.")
    evaluation: str = Field(default=DEFAULT_EVALUATION, pattern=EVALUATION_PATTERN, description=(
        "module:function of the read-only evaluation; a run's val_bpb counts only if this returned it in the run."))
    trust_printed_metric: bool = Field(default=False, description=(
        "Accept the printed val_bpb unobserved, for workspaces without an evaluation in prepare.py."))
    gpu: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES for runs; inherited when unset.")
    pass_env: Annotated[list[str], NoDecode] = Field(default_factory=list, description=(
        "Names of environment variables given to each run as they are, secrets included (`--pass-env NAME`, "
        "repeatable; AUTORESEARCH_PASS_ENV: names separated by commas or spaces). A run gets nothing else but "
        "the allowed basics (services/trainer/runner.py)."))
    lookahead: int = Field(default=1, ge=0, description="Proposals prepared ahead of the running experiment.")
    max_experiments: int | None = Field(default=None, ge=0, description=(
        "Experiments beyond the baseline: beyond those decided when the session began, or in all without a session."))
    session: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, description=(
        "Names one sitting (`up` gives each its own): a trainer restarted in the same session keeps the limit it set."))
    run_as: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, description=(
        "Run the train command as this user (name or uid); the trainer must run as root. The run's folder is "
        "made writable by that user; the state folder must not be readable by it."))
    no_network: bool = Field(default=False, description="Runs get no network: a network namespace of their own.")
    results_path: Path | None = Field(default=None, description=(
        "results.tsv to keep: rewritten whole, one row per decided experiment, on each verdict (`up`: the workspace's)."))

    @field_validator("pass_env", mode="before")
    @classmethod
    def _variable_names(cls, value: Any) -> Any:
        """Names, as one string or a list of them; the bus's and the services' own settings are never a run's."""
        if not isinstance(value, str | list | tuple) or not all(isinstance(item, str) for item in value):
            return value
        names = variable_names(value)
        for name in names:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name.startswith(("NATS_", "AUTORESEARCH_")):
                raise ValueError(f"{name} configures the services and is never passed to a run")
        return names

    @model_validator(mode="after")
    def _isolation_available(self) -> TrainerSettings:
        """Refuse isolation that is asked for and cannot be had here, rather than run without it."""
        if self.run_as or self.no_network:
            plan(self.run_as, self.no_network, self.state_dir)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The workspace file ranks below flags and the environment, above the defaults."""
        return init_settings, env_settings, dotenv_settings, WorkspaceFileSource(settings_cls), file_secret_settings
