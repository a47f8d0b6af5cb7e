"""Per-workspace settings, read from autoresearch.toml."""

import json
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

CONFIG_FILE = "autoresearch.toml"


class WorkspaceConfig(BaseModel):
    """The [workspace] table of autoresearch.toml."""

    model_config = ConfigDict(extra="forbid")

    train_command: str | None = Field(
        None, description="Shell command that trains once, run in the workspace; its output goes to run.log."
    )
    run_timeout: int | None = Field(
        None, gt=0, description="Seconds after which a training run is killed and counted as a crash."
    )


def load_workspace_config(path: Path) -> WorkspaceConfig:
    """Read <path>/autoresearch.toml; a missing file gives the defaults, a malformed one a ValueError."""
    file = Path(path) / CONFIG_FILE
    if not file.exists():
        return WorkspaceConfig()
    try:
        document = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{file} is not valid TOML: {error}") from None
    table = document.get("workspace", {})
    if not isinstance(table, dict):
        raise ValueError(f"{file}: 'workspace' must be a table, like [workspace]")
    try:
        return WorkspaceConfig.model_validate(table)
    except ValidationError as error:
        raise ValueError(f"{file} has a bad [workspace] table: {error}") from None


def render_workspace_config(config: WorkspaceConfig) -> str:
    """Write a config as the TOML text of autoresearch.toml."""
    lines = ["[workspace]"]
    if config.train_command is not None:
        # A JSON string is a valid TOML basic string, escapes included.
        lines.append(f"train_command = {json.dumps(config.train_command)}")
    if config.run_timeout is not None:
        lines.append(f"run_timeout = {config.run_timeout}")
    return "\n".join(lines) + "\n"
