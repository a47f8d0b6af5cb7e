"""The provenance rule over hand-made observations, the reports it reads, and the settings that name the evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.trainer.config import TrainerSettings
from services.trainer.provenance import (
    DEFAULT_EVALUATION, NOT_COMPUTED, NOT_OBSERVED, REASON_METRIC, Observation, refusal, refused,
)
from services.trainer.workspace_config import CONFIG_FILE, WorkspaceConfig, load_workspace_config, render_workspace_config
from shared.events import METRICS_MAX, RunFinished, utc_now
from shared.settings import SettingsError


def seen(*values: float | None, wrapped: bool = True, loaded: bool = True, missing: str | None = None) -> Observation:
    observed = Observation(DEFAULT_EVALUATION, loaded=loaded, wrapped=wrapped, missing=missing)
    observed.values.extend(values)
    return observed


@pytest.mark.parametrize("returned", [0.9979, 0.99790049, 0.99789951, 0.997900000001])
def test_a_value_that_prints_as_the_printed_one_is_accepted(returned: float):
    assert refusal({"val_bpb": 0.997900}, seen(1.2, returned)) is None


@pytest.mark.parametrize("returned", [0.9980, 0.99790051, 0.9978994, 1.9979, float("nan"), None])
def test_a_value_that_prints_otherwise_is_refused(returned: float | None):
    assert refusal({"val_bpb": 0.997900}, seen(returned)).startswith(f"{NOT_COMPUTED}: printed 0.997900")


def test_an_evaluation_never_called_is_named():
    assert refusal({"val_bpb": 1e-6}, seen()) == f"{NOT_COMPUTED}: printed 0.000001, but {DEFAULT_EVALUATION} was never called"


def test_the_last_value_returned_is_named():
    assert refusal({"val_bpb": 1e-6}, seen(2.0, 3.5)).endswith(f"{DEFAULT_EVALUATION} returned 3.500000")


def test_an_unobserved_run_and_a_missing_function_cannot_be_checked():
    assert refusal({"val_bpb": 1.0}, seen(1.0, loaded=False)).startswith(f"{NOT_OBSERVED}: the evaluation hook did not load")
    missing = refusal({"val_bpb": 1.0}, seen(wrapped=False, missing="prepare defines no function evaluate_bpb"))
    assert missing.startswith(f"{NOT_OBSERVED}: prepare defines no function evaluate_bpb") and "trust_printed_metric" in missing


def test_nothing_is_refused_without_a_printed_value_or_without_watching():
    assert refusal({}, seen()) is None  # no val_bpb is a crash of its own
    assert refusal({"val_bpb": "nan"}, seen()) is None
    assert refusal({"val_bpb": 1e-6}, None) is None


def test_reports_are_read_and_junk_is_ignored():
    observed = Observation(DEFAULT_EVALUATION)
    for line in [b'{"loaded": "prepare:evaluate_bpb"}', b'{"wrapped": "prepare:evaluate_bpb"}', b'{"value": 1.5}',
                 b'{"value": true}', b'{"value": "1.0"}', b'{"value": 2}', b"not json", b"[1]", b'{"other": 1}',
                 b"[" * 4000, b'{"value": 1e400}']:
        observed.take(line)
    assert observed.loaded and observed.wrapped and observed.missing is None
    assert list(observed.values) == [1.5, None, None, 2.0, float("inf")]


def test_only_the_newest_values_are_kept():
    observed = Observation(DEFAULT_EVALUATION)
    for step in range(5000):
        observed.take(json.dumps({"value": step}).encode())
    assert len(observed.values) == 1000 and observed.values[-1] == 4999.0


def test_a_refused_run_carries_its_reason_within_the_events_bounds():
    metrics: dict[str, float | str] = {"val_bpb": 1e-6, **{f"m{i}": float(i) for i in range(METRICS_MAX - 1)}}
    kept, log = refused(metrics, "line one\nval_bpb: 0.000001\n\n", "x" * 900)
    assert len(kept) == METRICS_MAX and kept["val_bpb"] == 1e-6 and kept[REASON_METRIC] == "x" * 500
    assert log.splitlines()[-1] == "autoresearch: " + "x" * 900 and log.startswith("line one\nval_bpb")
    RunFinished(campaign="t", experiment_id="t-0001", producer="trainer/1", commit="a" * 40, status="crash",
                metrics=kept, started_at=utc_now(), finished_at=utc_now())


# settings

def test_the_workspace_names_its_evaluation_and_may_trust_the_printed_metric(tmp_path: Path):
    config = WorkspaceConfig(evaluation="lib.scoring:bits_per_byte", trust_printed_metric=True)
    (tmp_path / CONFIG_FILE).write_text(render_workspace_config(config))
    assert load_workspace_config(tmp_path) == config
    settings = TrainerSettings(workspace=tmp_path, tag="t1")
    assert settings.evaluation == "lib.scoring:bits_per_byte" and settings.trust_printed_metric


def test_by_default_the_printed_metric_is_checked_against_prepare(tmp_path: Path):
    settings = TrainerSettings(workspace=tmp_path, tag="t1")
    assert settings.evaluation == "prepare:evaluate_bpb" and not settings.trust_printed_metric


@pytest.mark.parametrize("name", ["prepare.evaluate_bpb", "prepare:", ":evaluate_bpb", "prepare:evaluate bpb", "1x:f"])
def test_an_evaluation_that_is_not_module_colon_function_is_refused(tmp_path: Path, name: str):
    (tmp_path / CONFIG_FILE).write_text(f'[workspace]\nevaluation = "{name}"\n')
    with pytest.raises(SettingsError, match="evaluation"):
        load_workspace_config(tmp_path)
