"""Verdicts under noise as the proposer sees them: one row per experiment, and what it takes to be kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.proposer.llm.prompt import PromptOptions, build_prompt
from services.proposer.records import ExperimentRecord, fold_records
from services.proposer.researcher import ResearchContext
from shared.edits import Edit
from shared.events import ConfirmationRequested, Event, ProposalCreated, RunFinished, VerdictDecided

BASE, CHANGE = "b" * 40, "c" * 40
T0 = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
TRAIN_PY = "DEPTH = 4\nLEARNING_RATE = 0.001\n"


def ids(experiment: str, minute: int) -> dict:
    return dict(campaign="c1", experiment_id=experiment, producer="test/1", occurred_at=T0 + timedelta(minutes=minute))


def run(experiment: str, commit: str, val_bpb: float, minute: int, repeat: int = 0, kept_state: bool = False,
        baseline: bool = False) -> RunFinished:
    return RunFinished(**ids(experiment, minute), commit=commit, status="ok", metrics={"val_bpb": val_bpb},
                       log_tail=f"run of {commit[:7]} #{repeat}", started_at=T0, finished_at=T0, repeat=repeat,
                       kept_state=kept_state, baseline=baseline, description="baseline" if baseline else "")


def confirm(experiment: str, commit: str, repeat: int, minute: int, kept_state: bool = False) -> ConfirmationRequested:
    return ConfirmationRequested(**ids(experiment, minute), commit=commit, repeat=repeat, kept_state=kept_state,
                                 baseline=commit == BASE and experiment.endswith("0000"), sigma=0.004, reason="close")


def verdict(experiment: str, commit: str, val_bpb: float, runs: int, minute: int, **noise: object) -> VerdictDecided:
    return VerdictDecided(**ids(experiment, minute), commit=commit, status="keep", val_bpb=val_bpb, memory_gb=44.0,
                          head=commit, runs=runs, best_after=val_bpb, baseline=commit == BASE, **noise)


def confirmed_campaign() -> list[Event]:
    """A baseline run three times, then a change run twice with the kept state re-measured last."""
    return [
        run("c1-0000", BASE, 1.000, 1, baseline=True),
        confirm("c1-0000", BASE, 1, 2), run("c1-0000", BASE, 1.004, 3, repeat=1, baseline=True),
        confirm("c1-0000", BASE, 2, 4), run("c1-0000", BASE, 0.996, 5, repeat=2, baseline=True),
        verdict("c1-0000", BASE, 1.000, 3, 6, sigma=0.0042, clear_gain=0.0150),
        ProposalCreated(**ids("c1-0001", 6), base_commit=BASE, description="raise LR",
                        edits=[Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002")]),
        run("c1-0001", CHANGE, 0.990, 7),
        confirm("c1-0001", CHANGE, 1, 8), run("c1-0001", CHANGE, 0.986, 9, repeat=1),
        # The kept state measured again under this experiment: the tip is the baseline's commit.
        confirm("c1-0001", BASE, 3, 10, kept_state=True), run("c1-0001", BASE, 1.002, 11, repeat=3, kept_state=True, baseline=True),
        verdict("c1-0001", CHANGE, 0.988, 2, 12, sigma=0.0040, clear_gain=0.0140, confirmations=2, kept_runs=4),
    ]


def prompt(history: list[ExperimentRecord]) -> str:
    return build_prompt(ResearchContext("c1", "c1-0009", BASE, TRAIN_PY, history), PromptOptions())


def test_confirmation_runs_fold_into_one_row_holding_the_verdicts_mean_and_own_commit():
    baseline, change = fold_records(confirmed_campaign())
    assert change.commit == CHANGE and not change.baseline and change.description == "raise LR"
    assert change.log_tail == "run of ccccccc #1" and change.metrics == {"val_bpb": 0.986}  # its own last run, not the tip's
    assert (change.experiment_id, change.val_bpb, change.runs, change.status) == ("c1-0001", 0.988, 2, "keep")
    assert (baseline.experiment_id, baseline.val_bpb, baseline.runs, baseline.baseline) == ("c1-0000", 1.000, 3, True)


def test_a_re_measure_of_the_kept_state_under_an_experiment_of_its_own_adds_no_row():
    events = [*confirmed_campaign(), run("c1-0002", CHANGE, 0.991, 13, repeat=1, kept_state=True, baseline=True)]
    assert [r.experiment_id for r in fold_records(events)] == ["c1-0000", "c1-0001"]


def test_an_experiment_being_confirmed_says_so_until_its_verdict():
    events = confirmed_campaign()[:-3]  # the change's second run asked for, not yet decided
    text = prompt(fold_records(events))
    assert "| c1-0001 | pending | - | - | raise LR | in flight, being run again to confirm |" in text


def test_prompt_states_the_noise_and_the_gain_needed_to_be_kept_at_once():
    text = prompt(fold_records(confirmed_campaign()))
    assert "Run-to-run noise σ̂ = 0.004000 val_bpb" in text
    assert "A single run must beat the current best (0.988000), the mean of its runs, by 0.014000 to be kept at once" in text
    assert "smaller apparent gains are run again to confirm them" in text and "kept only when it removes code" in text
    assert "| c1-0001 | keep | 0.988000 | 44.0 | raise LR | mean of 2 runs |" in text
    assert "val_bpb 0.988000 as the mean of 2 runs" in text


def test_the_latest_verdict_gives_the_figures_whatever_the_order_the_experiments_began():
    late = ExperimentRecord("c1-0001", description="a", status="discard", val_bpb=1.0, sigma=0.003, clear_gain=0.011,
                            best_after=0.97, decided_at=T0 + timedelta(hours=2))
    early = ExperimentRecord("c1-0002", description="b", status="keep", val_bpb=0.97, sigma=0.005, clear_gain=0.019,
                             best_after=0.97, decided_at=T0 + timedelta(hours=1))
    text = prompt([late, early])
    assert "σ̂ = 0.003000" in text and "by 0.011000" in text and "0.005000" not in text


def test_without_a_noise_estimate_nothing_is_said_about_noise():
    events = [e.model_copy(update={"sigma": None, "clear_gain": None}) if isinstance(e, VerdictDecided) else e
              for e in confirmed_campaign()]
    text = prompt(fold_records(events))
    assert "σ̂" not in text and "Noise" not in text and "kept at once" not in text
    assert "| c1-0001 | keep | 0.988000 |" in text  # the result is still the verdict's mean
