"""Trainer settings: flags, then the environment, then the workspace's autoresearch.toml, then the defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

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


class TrainerSettings(ServiceSettings):
    """How the trainer runs experiments in its workspace; loading raises SettingsError on a bad autoresearch.toml."""

    workspace: Path = Field(description="Git working tree holding train.py.")
    tag: str = Field(pattern=CAMPAIGN_PATTERN, description="Campaign tag; the branch is autoresearch/<tag>.")
    train_command: str = Field(default=DEFAULT_TRAIN_COMMAND, min_length=1)
    run_timeout: float = Field(default=600.0, gt=0, description="Seconds before a run is killed as a timeout.")
    gpu: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES for runs; inherited when unset.")
    lookahead: int = Field(default=1, ge=0, description="Proposals prepared ahead of the running experiment.")
    max_experiments: int | None = Field(default=None, ge=0, description=(
        "Experiments beyond the baseline: beyond those decided when the session began, or in all without a session."))
    session: str | None = Field(default=None, min_length=1, max_length=NAME_MAX, description=(
        "Names one sitting (`up` gives each its own): a trainer restarted in the same session keeps the limit it set."))

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
