"""A workspace's own trainer settings: the [workspace] table of its autoresearch.toml."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.trainer.provenance import EVALUATION_PATTERN
from shared.settings import SettingsError

CONFIG_FILE = "autoresearch.toml"


class WorkspaceConfig(BaseModel):
    """The [workspace] table of autoresearch.toml; every field is a TrainerSettings field it sets."""

    model_config = ConfigDict(extra="forbid")

    train_command: str | None = Field(
        None, min_length=1, description="Shell command that trains once, run in the workspace; its output goes to run.log."
    )
    run_timeout: int | None = Field(
        None, gt=0, description="Seconds after which a training run is killed and counted as a crash."
    )
    evaluation: str | None = Field(
        None, pattern=EVALUATION_PATTERN,
        description="module:function whose returned value a run's printed val_bpb must be (default prepare:evaluate_bpb).",
    )
    trust_printed_metric: bool | None = Field(
        None, description="Accept the printed val_bpb without seeing the evaluation return it (no prepare.py evaluation).",
    )


def load_workspace_config(workspace: Path) -> WorkspaceConfig:
    """Read <workspace>/autoresearch.toml; a missing file sets nothing, a malformed one raises SettingsError naming it."""
    file = Path(workspace) / CONFIG_FILE
    if not file.exists():
        return WorkspaceConfig()
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise SettingsError(f"{file} is not readable TOML: {error}") from None
    table = document.get("workspace", {})
    if not isinstance(table, dict):
        raise SettingsError(f"{file}: 'workspace' must be a table, like [workspace]")
    try:
        return WorkspaceConfig.model_validate(table)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise SettingsError(f"{file} has a bad [workspace] table: {problems}") from None


def render_workspace_config(config: WorkspaceConfig) -> str:
    """Write a config as the TOML text of autoresearch.toml."""
    lines = ["[workspace]"]
    if config.train_command is not None:
        # A JSON string is a valid TOML basic string, escapes included.
        lines.append(f"train_command = {json.dumps(config.train_command)}")
    if config.run_timeout is not None:
        lines.append(f"run_timeout = {config.run_timeout}")
    if config.evaluation is not None:
        lines.append(f"evaluation = {json.dumps(config.evaluation)}")
    if config.trust_printed_metric is not None:
        lines.append(f"trust_printed_metric = {json.dumps(config.trust_printed_metric)}")
    return "\n".join(lines) + "\n"
