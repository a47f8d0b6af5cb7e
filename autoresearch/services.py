"""Which services exist: each loader returns (settings model, serve coroutine), imported lazily."""

from __future__ import annotations

from collections.abc import Callable


def _trainer() -> tuple:
    from services.trainer.config import TrainerSettings
    from services.trainer.main import serve
    return TrainerSettings, serve


def _editor() -> tuple:
    from services.editor.main import EditorSettings, serve
    return EditorSettings, serve


def _evaluator() -> tuple:
    from services.evaluator.main import EvaluatorSettings, serve
    return EvaluatorSettings, serve


def _ledger() -> tuple:
    from services.ledger.main import LedgerSettings, serve
    return LedgerSettings, serve


def _proposer() -> tuple:
    from services.proposer.main import ProposerSettings, serve
    return ProposerSettings, serve


SERVICES: dict[str, Callable[[], tuple]] = {
    "proposer": _proposer,
    "editor": _editor,
    "trainer": _trainer,
    "evaluator": _evaluator,
    "ledger": _ledger,
}
