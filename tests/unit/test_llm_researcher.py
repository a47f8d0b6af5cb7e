"""The LLM researcher against a fake model: retries with the error, duplicates, and the spending cap."""

from __future__ import annotations

import json

import pytest
from structlog.testing import capture_logs

from services.proposer.records import ExperimentRecord, fold_records
from services.proposer.llm.answer import ANSWER_MAX
from services.proposer.llm.budget import Budget, Prices
from services.proposer.llm.client import Completion, LLMUnavailable, Message
from services.proposer.llm.researcher import LLMResearcher
from services.proposer.researcher import NoIdea, ResearchContext
from shared.edits import EDIT_TEXT_MAX
from shared.events import Edit, ProposalCreated

TRAIN_PY = "DEPTH = 4\nLEARNING_RATE = 0.001\nprint('training')\n"


def answer(description: str = "raise the learning rate", search: str = "LEARNING_RATE = 0.001",
           replace: str = "LEARNING_RATE = 0.002") -> str:
    return json.dumps({"description": description, "rationale": "r", "expected_vram_impact": "none",
                       "edits": [{"search": search, "replace": replace}]})


class FakeChatClient:
    """Answers from a script, remembering every conversation it was sent."""

    model = "fake-model"

    def __init__(self, *replies: str | Exception, truncated: bool = False) -> None:
        self.replies, self.truncated = list(replies), truncated
        self.conversations: list[list[Message]] = []
        self.systems: list[str] = []

    async def complete(self, system: str, messages: list[Message]) -> Completion:
        self.systems.append(system)
        self.conversations.append(list(messages))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return Completion(reply, "fake-model-2025", input_tokens=100, output_tokens=20, latency_s=0.5,
                          truncated=self.truncated)


def context(history: list[ExperimentRecord] | None = None) -> ResearchContext:
    return ResearchContext("c1", "c1-0005", "a" * 40, TRAIN_PY, history or [])


async def test_valid_answer_becomes_a_draft_with_its_cost():
    client = FakeChatClient(f"Sure:\n```json\n{answer()}\n```")
    researcher = LLMResearcher(client, budget=Budget(prices=Prices(input=2.0, output=10.0)))
    draft = await researcher.propose(context())
    assert draft.edits == [Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002")]
    assert (draft.model, draft.input_tokens, draft.output_tokens, draft.latency_s) == ("fake-model-2025", 100, 20, 0.5)
    assert draft.cost == pytest.approx((100 * 2.0 + 20 * 10.0) / 1e6)
    assert "experienced researcher in LLM pretraining" in client.systems[0]


async def test_invalid_answer_is_sent_back_with_the_error_then_accepted():
    client = FakeChatClient('{"description": "raise LR"}', answer())
    draft = await LLMResearcher(client).propose(context())
    assert draft.description == "raise the learning rate"
    retry = client.conversations[1]
    assert [m.role for m in retry] == ["user", "assistant", "user"]
    assert retry[1].content == '{"description": "raise LR"}'
    assert "non-empty 'edits' list or 'train_py'" in retry[2].content
    assert (draft.input_tokens, draft.output_tokens, draft.latency_s) == (200, 40, 1.0)


async def test_three_invalid_answers_give_no_idea():
    client = FakeChatClient("no json here", "still none", "{}")
    with capture_logs() as logs, pytest.raises(NoIdea, match="no usable answer after 3 tries"):
        await LLMResearcher(client, answer_retries=2).propose(context())
    assert len(client.conversations) == 3
    assert sum(1 for entry in logs if entry["event"] == "answer not usable") == 3


async def test_edit_that_does_not_apply_is_sent_back():
    client = FakeChatClient(answer(search="LEARNING_RATE = 0.1"), answer())
    await LLMResearcher(client).propose(context())
    assert "does not occur in train.py" in client.conversations[1][-1].content


async def test_duplicate_is_not_published_and_the_model_is_asked_for_something_new():
    tried = ExperimentRecord("c1-0002", description="higher LR", status="discard", val_bpb=1.01,
                             edits=[Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002")])
    client = FakeChatClient(answer(), answer("deeper model", "DEPTH = 4", "DEPTH = 6"))
    draft = await LLMResearcher(client).propose(context([tried]))
    assert draft.description == "deeper model"
    assert "repeats experiment c1-0002" in client.conversations[1][-1].content


async def test_truncated_answer_is_told_to_be_smaller():
    client = FakeChatClient('{"description": "rewrite', answer(), truncated=True)
    await LLMResearcher(client).propose(context())
    assert "cut off at the output limit" in client.conversations[1][-1].content


async def test_unavailable_model_gives_no_idea_so_the_ticket_waits():
    client = FakeChatClient(LLMUnavailable("https://llm/chat/completions failed 6 times"))
    with pytest.raises(NoIdea, match="unavailable"):
        await LLMResearcher(client).propose(context())


async def test_token_cap_counts_every_proposal_of_the_campaign_and_stops_proposing():
    ids = dict(campaign="c1", producer="proposer/p", base_commit="a" * 40, edits=[Edit(search="a", replace="b")])
    history = fold_records([
        ProposalCreated(**ids, experiment_id="c1-0001", description="one", input_tokens=500, output_tokens=100),
        ProposalCreated(**ids, experiment_id="c1-0002", description="two", input_tokens=350, output_tokens=50),
        ProposalCreated(**ids, experiment_id="c1-0003", description="by the search proposer"),
    ])
    client = FakeChatClient(answer())
    with capture_logs() as logs, pytest.raises(NoIdea, match="token cap is reached: 1000 of 1000"):
        await LLMResearcher(client, budget=Budget(token_cap=1000)).propose(context(history))
    assert client.conversations == []
    assert any(entry["log_level"] == "error" and "budget spent" in entry["event"] for entry in logs)


async def test_below_the_cap_the_model_is_asked():
    spent = ExperimentRecord("c1-0001", description="x", status="discard", input_tokens=900, output_tokens=99)
    draft = await LLMResearcher(FakeChatClient(answer()), budget=Budget(token_cap=1000)).propose(context([spent]))
    assert draft.description == "raise the learning rate"


async def test_tokens_of_dropped_answers_count_towards_the_cap():
    client = FakeChatClient("nothing", "nothing", "nothing", answer())
    researcher = LLMResearcher(client, budget=Budget(token_cap=300))
    with pytest.raises(NoIdea, match="no usable answer"):
        await researcher.propose(context())
    with pytest.raises(NoIdea, match="token cap"):
        await researcher.propose(context())
    assert len(client.conversations) == 3


async def test_cost_cap_uses_recorded_costs():
    spent = ExperimentRecord("c1-0001", description="x", status="keep", input_tokens=10, output_tokens=10, cost=5.0)
    budget = Budget(cost_cap=5.0, prices=Prices(input=1.0, output=1.0))
    with pytest.raises(NoIdea, match="cost cap"):
        await LLMResearcher(FakeChatClient(answer()), budget=budget).propose(context([spent]))


async def test_an_oversized_answer_is_refused_and_never_sent_back_whole():
    huge = json.dumps({**json.loads(answer()), "rationale": "y" * 10_000_000})  # ten megabytes from the model
    client = FakeChatClient(huge, answer("deeper model", "DEPTH = 4", "DEPTH = 6"))
    draft = await LLMResearcher(client).propose(context())
    assert draft.description == "deeper model"
    first, retry = client.conversations
    assert sum(len(m.content) for m in retry) < sum(len(m.content) for m in first) + 6_000
    assert f"over the limit of {ANSWER_MAX}" in retry[-1].content and len(retry[-1].content) < 300


async def test_edits_over_the_proposal_budget_are_sent_back_before_anything_is_published():
    padding = "  # " + "x" * 160_000  # two blocks of 160,000 characters: each fits a field, together over the budget
    padded = json.dumps({**json.loads(answer()), "edits": [
        {"search": "LEARNING_RATE = 0.001", "replace": "LEARNING_RATE = 0.002" + padding},
        {"search": "DEPTH = 4", "replace": "DEPTH = 6" + padding},
    ]})
    client = FakeChatClient(padded, answer())
    draft = await LLMResearcher(client).propose(context())
    assert draft.edits == [Edit(search="LEARNING_RATE = 0.001", replace="LEARNING_RATE = 0.002")]
    assert f"over the limit of {EDIT_TEXT_MAX}; propose a smaller change" in client.conversations[1][-1].content
