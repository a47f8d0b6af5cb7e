"""Trainer settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.events import CAMPAIGN_PATTERN
from shared.settings import ServiceSettings

DEFAULT_TRAIN_COMMAND = "uv run train.py"


class TrainerSettings(ServiceSettings):
    """How the trainer runs experiments in its workspace."""

    workspace: Path = Field(description="Git working tree holding train.py.")
    tag: str = Field(pattern=CAMPAIGN_PATTERN, description="Campaign tag; the branch is autoresearch/<tag>.")
    train_command: str = Field(default=DEFAULT_TRAIN_COMMAND, min_length=1)
    run_timeout: float = Field(default=600.0, gt=0, description="Seconds before a run is killed as a timeout.")
    gpu: str | None = Field(default=None, description="CUDA_VISIBLE_DEVICES for runs; inherited when unset.")
    lookahead: int = Field(default=1, ge=0, description="Proposals prepared ahead of the running experiment.")
    max_experiments: int | None = Field(default=None, ge=0, description="Experiments beyond the baseline in this session.")
