"""The researcher's persona and the prompt for one proposal, fitted to a context budget."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.proposer.llm import context as ctx
from services.proposer.llm.table import experiments_table
from services.proposer.researcher import ResearchContext

CHARS_PER_TOKEN = 4  # a rough average for English and code; the budget is approximate on purpose
MIN_TABLE_CHARS = 600
SECTION_FRAME = 64  # a section's heading and the line breaks around it
PROGRAM_TITLE = "Research instructions (program.md; the harness performs its setup and loop, you propose the change)"
README_TITLE = "Repository context (README.md, as program.md asks)"
# Proposals prepared ahead run on the branch after the one before them: a change to a line one of them edits
# no longer applies once that one is kept, and is thrown away unrun.
IN_FLIGHT_TITLE = (
    "In flight (proposed, not decided yet; do not repeat them or touch the same lines, "
    "since a change to a line they edit is thrown away if they are kept)"
)

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

# Appended to every persona, the built-in one or a user's: program.md is written for an agent that runs the
# whole loop itself, and without this a model answers its setup steps instead of proposing a change.
HARNESS = """\
This harness runs program.md's setup and experiment loop for you. These steps, whatever program.md says,
are done by the harness and never by you:
- Setup: the run tag is agreed and the branch autoresearch/<tag> created; results.tsv is initialized, and a
  row is appended to it for every experiment; the data and tokenizer of prepare.py are checked before the
  first run. The files program.md asks you to read are in the message: train.py whole, prepare.py's fixed
  constants, and README.md when program.md names it.
- Each experiment: your change is applied to train.py and committed; the train command (e.g.
  `uv run train.py > run.log 2>&1`) runs under a hard time limit; val_bpb and peak_vram_mb are read from
  run.log; a crash's last 50 log lines are kept and shown to you.
- The decision: the branch advances on a keep and is reset on a discard or crash. The unchanged baseline ran
  first, and runs are repeated where needed so that a gain is told apart from run-to-run noise.
- The loop never stops: you are asked again for every next experiment.
What is left to you, every time: one change to train.py, answered as the JSON object described at the end
of the message. Never answer with setup steps, a run tag, shell or git commands, questions or a plan."""

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


def system_prompt(persona: str) -> str:
    """The system message: the persona, then what the harness does and what is left to the model."""
    return f"{persona.rstrip()}\n\n{HARNESS}"


def fitted(text: str, room: int, name: str) -> str:
    """The text whole when it fits in room characters, else its beginning, cut at a line, and a note saying so."""
    if len(text) <= room:
        return text
    note = f"[{name} is cut here to fit the prompt: the first {{shown}} of its {len(text)} characters are shown]"
    keep = max(room - len(note) - 8, 0)
    cut = text.rfind("\n", 0, keep + 1)
    shown = text[: cut if cut > keep // 2 else keep]
    if not shown.strip():
        return f"[{name} ({len(text)} characters) is left out: the prompt has no room for it]"
    return f"{shown.rstrip()}\n{note.format(shown=len(shown))}"


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
    budget = options.context_tokens * CHARS_PER_TOKEN
    head = [
        f"Campaign {context.campaign}: propose the next experiment ({context.experiment_id}) "
        f"on top of commit {context.base_commit[:7]}.\n",
        _section(PROGRAM_TITLE, fitted(context.program_md or "", budget // 4, "program.md")),
        _section("Fixed constants of prepare.py (read-only)", ctx.prepare_constants(context.prepare_py or "")),
    ]
    tail = [
        _section("Standing", ctx.standing(records)),
        _section("Noise: what it takes to be kept", ctx.noise(records)),
        _section("Commit log of the branch (kept experiments, oldest first)", ctx.commit_log(records)),
        _section("The previous run", ctx.previous_run(records)),
        _section("Crash to diagnose", ctx.crash_report(records)),
        _section("Rejected by the editor (fix the cause, do not resend as is)", ctx.rejections(records)),
        _section(IN_FLIGHT_TITLE, ctx.flight_list(records, context.experiment_id)),
        _section("Plateau", plateau_note(ctx.no_improvement_streak(records), options.plateau_after)),
        _section(f"train.py at {context.base_commit[:7]}", f"```python\n{context.train_py}\n```"),
        _section("Your answer", ANSWER_FORMAT.format(max_file_chars=options.max_file_chars)),
    ]
    # train.py and the answer format are never cut. README.md gives way first: it gets at most a quarter of
    # the budget, and only what the whole table leaves; once it is gone, the table's older rows go next.
    room = budget - sum(map(len, head + tail)) - len(system_prompt(options.persona)) - len(head) - len(tail)
    whole_table = len(experiments_table(records, max(room, MIN_TABLE_CHARS))) if records else 0
    readme_room = min(room - max(whole_table, MIN_TABLE_CHARS) - 2 * SECTION_FRAME, budget // 4)
    readme = _section(README_TITLE, fitted(context.readme_md, readme_room, "README.md")) if context.readme_md else ""
    table = experiments_table(records, max(room - len(readme), MIN_TABLE_CHARS)) if records else "None yet."
    parts = [*head[:2], readme, *head[2:], _section("Experiments so far (oldest first)", table), *tail]
    return "\n".join(part for part in parts if part)


def approximate_tokens(text: str) -> int:
    """A rough token count, the same measure as the budget."""
    return len(text) // CHARS_PER_TOKEN + 1
