"""The LLM researcher: prompt, answer, check, and try again when the answer cannot be used."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from services.proposer.llm.answer import AnswerError, echo, parse_answer, to_edits
from services.proposer.llm.budget import Budget, Prices
from services.proposer.llm.client import ChatClient, Completion, LLMError, Message
from services.proposer.llm.config import LLMSettings
from services.proposer.llm.novelty import find_duplicate
from services.proposer.llm.prompt import PERSONA, PromptOptions, approximate_tokens, build_prompt, system_prompt
from services.proposer.researcher import Draft, NoIdea, ResearchContext

log = structlog.get_logger("proposer.llm")


@dataclass
class _Usage:
    """Tokens and waiting time of one proposal, all turns together."""

    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0

    def add(self, completion: Completion) -> None:
        self.input_tokens += completion.input_tokens
        self.output_tokens += completion.output_tokens
        self.latency_s += completion.latency_s


@dataclass
class LLMResearcher:
    """Asks a language model for one experiment, holding it to the format and to novelty."""

    client: ChatClient
    options: PromptOptions = field(default_factory=PromptOptions)
    budget: Budget = field(default_factory=Budget)
    answer_retries: int = 2
    kind: str = "llm"
    waits_for_baseline: bool = True  # the first prompt shows the baseline's result, never "No result yet"
    # Tokens of answers that were never published, per campaign: no event records them, so this process does.
    _unrecorded: dict[str, tuple[int, int]] = field(default_factory=dict, init=False, repr=False)

    async def propose(self, context: ResearchContext) -> Draft:
        """Draft one new, well-formed change to train.py, or raise NoIdea so the ticket waits."""
        spend = self.budget.spent(context.history, self._unrecorded.get(context.campaign, (0, 0)))
        if (why := self.budget.exhausted(spend)) is not None:
            log.error("LLM budget spent: no more proposals for this campaign; raise the cap to continue",
                      campaign=context.campaign, reason=why)
            raise NoIdea(why)
        prompt, system = build_prompt(context, self.options), system_prompt(self.options.persona)
        estimate = approximate_tokens(prompt) + approximate_tokens(system)
        log.info("asking the model", experiment_id=context.experiment_id, model=self.client.model,
                 prompt_tokens_estimate=estimate)
        if estimate > self.options.context_tokens:
            log.warning("prompt exceeds the context budget even with the history summarized",
                        prompt_tokens_estimate=estimate, budget=self.options.context_tokens)
        messages, usage, problem = [Message("user", prompt)], _Usage(), ""
        for turn in range(1, self.answer_retries + 2):
            try:
                completion = await self.client.complete(system, messages)
            except LLMError as exc:
                self._remember_unpublished(context.campaign, usage)
                raise NoIdea(f"the language model is unavailable: {exc}") from exc
            usage.add(completion)
            try:
                return self._draft(completion, context, usage)
            except AnswerError as exc:
                problem = str(exc)
                if completion.truncated:
                    problem += " (the answer was cut off at the output limit: make the change smaller)"
                log.warning("answer not usable", experiment_id=context.experiment_id, turn=turn, reason=problem)
            # The model's own text goes back quoted and bounded, so an oversized answer never grows the prompt.
            messages += [
                Message("assistant", echo(completion.text)),
                Message("user", f"That answer cannot be used: {problem}\nReply with one corrected JSON object only."),
            ]
        self._remember_unpublished(context.campaign, usage)
        raise NoIdea(f"no usable answer after {self.answer_retries + 1} tries; last problem: {problem}")

    def _draft(self, completion: Completion, context: ResearchContext, usage: _Usage) -> Draft:
        """The completion as a Draft; AnswerError when it is malformed, does not apply, or repeats the past."""
        answer = parse_answer(completion.text)
        edits = to_edits(answer, context.train_py, self.options.max_file_chars)
        repeated = find_duplicate(answer.description, edits, answer.kind, context.history)
        if repeated is not None:
            raise AnswerError(
                f"it repeats experiment {repeated.experiment_id} ({repeated.description}, {repeated.status}); "
                "propose something new"
            )
        return Draft(
            description=answer.description, rationale=answer.rationale,
            expected_vram_impact=answer.expected_vram_impact or "unknown", edits=edits, kind=answer.kind,
            model=completion.model, input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            latency_s=round(usage.latency_s, 3), cost=self.budget.price(usage.input_tokens, usage.output_tokens),
        )

    def _remember_unpublished(self, campaign: str, usage: _Usage) -> None:
        spent_in, spent_out = self._unrecorded.get(campaign, (0, 0))
        self._unrecorded[campaign] = (spent_in + usage.input_tokens, spent_out + usage.output_tokens)

    async def aclose(self) -> None:
        """Close the client's connections."""
        close = getattr(self.client, "aclose", None)
        if close is not None:
            await close()


def make_llm_researcher(settings: LLMSettings) -> LLMResearcher:
    """The LLM researcher as configured: client, persona, prompt budget and spending caps."""
    from services.proposer.llm.providers import make_chat_client

    persona = settings.llm_prompt_file.read_text() if settings.llm_prompt_file else PERSONA
    prices = None
    if settings.llm_price_input is not None and settings.llm_price_output is not None:
        prices = Prices(settings.llm_price_input, settings.llm_price_output)
    return LLMResearcher(
        client=make_chat_client(settings),
        options=PromptOptions(
            context_tokens=settings.llm_context_tokens, plateau_after=settings.llm_plateau_after,
            max_file_chars=settings.llm_max_file_chars, persona=persona,
        ),
        budget=Budget(token_cap=settings.llm_token_cap, cost_cap=settings.llm_cost_cap, prices=prices),
        answer_retries=settings.llm_answer_retries,
    )
