"""The researcher's persona and the prompt for one proposal, fitted to a context budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.proposer.llm import context as ctx
from services.proposer.llm.table import experiments_table
from services.proposer.researcher import ResearchContext

CHARS_PER_TOKEN = 4  # a rough average for English and code; the budget is approximate on purpose
MIN_TABLE_CHARS = 600

PERSONA = """\
You are an experienced researcher in LLM pretraining. You run a long series of experiments on a small
GPT training script, train.py. Each experiment trains for a fixed wall-clock time budget and is scored
by validation bits per byte (val_bpb, lower is better). A change is kept only if val_bpb improves;
otherwise the branch goes back to where it was.

How you work:
- One change per experiment, so that its result says something clear.
- Simpler is better. A tiny gain that adds ugly complexity is not worth it; removing code for an equal
  or better result is a win.
- Only train.py may change. prepare.py (data, tokenizer, evaluation, time budget) is fixed.
- No new dependencies: only what train.py already imports, PyTorch and the Python standard library.
- VRAM is a soft limit: some growth is fine for a real gain, but an out-of-memory crash wastes a run.
- The time budget is fixed: a change that makes steps slower must pay for itself.
- Learn from the history: never repeat an experiment, build on what was kept, avoid what failed.
- After a crash, read the log, find the bug, and fix it or move on.
- When progress stalls, do not stop and do not settle for tiny tweaks: try bolder, more radical ideas.
You never run out of ideas; there is always another experiment worth a run."""

ANSWER_FORMAT = """\
Answer with exactly one JSON object (a ```json fence around it is fine; nothing else is read):
{{
  "description": "one line, at most 200 characters: what this experiment changes",
  "rationale": "why it should lower val_bpb",
  "expected_vram_impact": "e.g. none, about +10%, lower",
  "kind": "change",
  "edits": [{{"search": "text copied exactly from train.py", "replace": "what replaces it"}}]
}}
Each search must be copied exactly from train.py above (whitespace included) and occur there exactly once;
edits apply in order. Use "kind": "repair" only to re-propose a crashed idea with its bug fixed.
For a sweeping rewrite you may give "train_py": the whole new file (at most {max_file_chars} characters)
instead of "edits"."""


@dataclass(frozen=True)
class PromptOptions:
    """Knobs of the prompt: its budget, the plateau threshold, the whole-file limit, the persona."""

    context_tokens: int = 32000
    plateau_after: int = 5
    max_file_chars: int = 120_000
    persona: str = field(default=PERSONA, repr=False)


def _section(title: str, body: str | None) -> str:
    return f"## {title}\n{body.strip()}\n" if body and body.strip() else ""


def plateau_note(streak: int, after: int) -> str:
    """A push towards bolder ideas once `after` experiments in a row failed to improve."""
    if streak < after:
        return ""
    return (
        f"You are on a plateau: the last {streak} experiments did not improve val_bpb. Small tweaks are not "
        "working. Propose a bolder idea: a different architecture component, optimizer or schedule, a change "
        "of scale, or a combination of earlier near-misses. Do not stop."
    )


def build_prompt(context: ResearchContext, options: PromptOptions) -> str:
    """The user message for one proposal: files, history, feedback, then the answer format."""
    records = ctx.in_order(context.history)
    program = context.program_md or ""
    budget = options.context_tokens * CHARS_PER_TOKEN
    head = [
        f"Campaign {context.campaign}: propose the next experiment ({context.experiment_id}) "
        f"on top of commit {context.base_commit[:7]}.\n",
        _section("Research instructions (program.md)", program[: budget // 4]),
        _section("Fixed constants of prepare.py (read-only)", ctx.prepare_constants(context.prepare_py or "")),
    ]
    tail = [
        _section("Standing", ctx.standing(records)),
        _section("Noise: what it takes to be kept", ctx.noise(records)),
        _section("Commit log of the branch (kept experiments, oldest first)", ctx.commit_log(records)),
        _section("The previous run", ctx.previous_run(records)),
        _section("Crash to diagnose", ctx.crash_report(records)),
        _section("Rejected by the editor (fix the cause, do not resend as is)", ctx.rejections(records)),
        _section("Plateau", plateau_note(ctx.no_improvement_streak(records), options.plateau_after)),
        _section(f"train.py at {context.base_commit[:7]}", f"```python\n{context.train_py}\n```"),
        _section("Your answer", ANSWER_FORMAT.format(max_file_chars=options.max_file_chars)),
    ]
    fixed = sum(map(len, head + tail)) + len(options.persona)
    table = experiments_table(records, max(budget - fixed, MIN_TABLE_CHARS)) if records else "None yet."
    return "\n".join(part for part in [*head, _section("Experiments so far (oldest first)", table), *tail] if part)


def approximate_tokens(text: str) -> int:
    """A rough token count, the same measure as the budget."""
    return len(text) // CHARS_PER_TOKEN + 1
