"""Choosing the proposer kind from settings, and the handler recording who made a proposal at what cost."""

from __future__ import annotations

import pytest

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.llm.researcher import LLMResearcher
from services.proposer.main import ProposerSettings, make_researcher
from services.proposer.records import CampaignRecords
from services.proposer.researcher import Draft, ResearchContext
from services.proposer.search import SearchResearcher
from shared.events import Edit, Event, ProposalCreated, ProposalRequested
from shared.settings import SettingsError, load_settings

BASE = "b" * 40
FILES = {"train.py": "LR = 0.1\n", "program.md": "be brave", "prepare.py": "TIME_BUDGET = 300\n"}

@pytest.fixture(autouse=True)
def no_llm_environment(monkeypatch):
    for name in ("AUTORESEARCH_PROPOSER", "AUTORESEARCH_LLM_MODEL", "AUTORESEARCH_LLM_PROVIDER",
                 "AUTORESEARCH_LLM_BASE_URL", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)

def test_search_is_the_default_without_a_model():
    assert isinstance(make_researcher(load_settings(ProposerSettings)), SearchResearcher)

async def test_a_configured_model_makes_llm_the_default(monkeypatch):
    monkeypatch.setenv("AUTORESEARCH_LLM_MODEL", "qwen2.5-coder")
    monkeypatch.setenv("AUTORESEARCH_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    settings = load_settings(ProposerSettings)
    researcher = make_researcher(settings)
    assert settings.kind == "llm" and isinstance(researcher, LLMResearcher)
    await researcher.aclose()
    assert load_settings(ProposerSettings, proposer="search").kind == "search"

def test_llm_without_model_or_key_fails_fast_naming_the_variable(monkeypatch):
    with pytest.raises(SettingsError, match="AUTORESEARCH_LLM_MODEL"):
        load_settings(ProposerSettings, proposer="llm")
    monkeypatch.setenv("AUTORESEARCH_LLM_PROVIDER", "anthropic")
    with pytest.raises(SettingsError, match="ANTHROPIC_API_KEY"):
        load_settings(ProposerSettings, proposer="llm", llm_model="claude")

def test_cost_cap_needs_prices():
    with pytest.raises(SettingsError, match="PRICE_INPUT"):
        load_settings(ProposerSettings, llm_cost_cap=5.0)

class FakeResearcher:
    """Returns one fixed draft and remembers the context it saw."""

    kind = "llm"

    def __init__(self) -> None:
        self.seen: ResearchContext | None = None

    async def propose(self, context: ResearchContext) -> Draft:
        self.seen = context
        return Draft("raise LR", "why", "none", [Edit(search="LR = 0.1", replace="LR = 0.2")], kind="repair",
                     model="m-2025", input_tokens=1200, output_tokens=300, latency_s=4.5, cost=0.01)

async def test_handler_records_model_tokens_latency_and_proposer_instance():
    published: list[Event] = []
    researcher = FakeResearcher()

    async def publish(event: Event) -> None:
        published.append(event)

    async def records(campaign: str) -> CampaignRecords:
        return CampaignRecords()

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        return FILES.get(path)

    ctx = ProposerContext(researcher, publish, records, read_file, producer="proposer/proposer-2", instance="proposer-2")
    ticket = ProposalRequested(campaign="c1", experiment_id="c1-0003", producer="trainer/t", base_commit=BASE, sequence=3)
    await on_proposal_requested(ticket, ctx)
    [proposal] = published
    assert isinstance(proposal, ProposalCreated)
    assert (proposal.model, proposal.input_tokens, proposal.output_tokens, proposal.latency_s, proposal.cost) == (
        "m-2025", 1200, 300, 4.5, 0.01)
    assert (proposal.proposer, proposal.proposer_kind, proposal.kind) == ("proposer-2", "llm", "repair")
    assert researcher.seen.prepare_py == "TIME_BUDGET = 300\n" and researcher.seen.program_md == "be brave"
