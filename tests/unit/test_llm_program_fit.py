"""The prompt fits Karpathy's program.md: the harness's steps said plainly, README.md shown, metrics as printed.

tests/fixtures/karpathy_program holds program.md and README.md of github.com/karpathy/autoresearch (228791f).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.llm.client import Completion, Message
from services.proposer.llm.figures import figure
from services.proposer.llm.prompt import HARNESS, PromptOptions, build_prompt, system_prompt
from services.proposer.llm.researcher import LLMResearcher
from services.proposer.records import CampaignRecords, ExperimentRecord
from services.proposer.researcher import ResearchContext
from services.trainer.runner import parse_summary
from shared.events import ProposalCreated, ProposalRequested, RunFinished, VerdictDecided
from tests.conftest import FIXTURES
from tests.fakes import FakePublisher

PROGRAM_MD = (FIXTURES / "karpathy_program" / "program.md").read_text()
README_MD = (FIXTURES / "karpathy_program" / "README.md").read_text()
HEAD = "a" * 40
TRAIN_PY = "DEPTH = 8\nMATRIX_LR = 0.04\nprint('training')\n"
TICKET = ProposalRequested(campaign="mar5", experiment_id="mar5-0001", producer="trainer/1", base_commit=HEAD, sequence=1)


class FakeChatClient:
    """Answers every request with one valid change, remembering the system and user messages it was sent."""

    model = "fake-model"

    def __init__(self) -> None:
        self.systems: list[str] = []
        self.prompts: list[str] = []

    async def complete(self, system: str, messages: list[Message]) -> Completion:
        self.systems.append(system)
        self.prompts.append(messages[0].content)
        answer = {"description": "raise the matrix learning rate", "rationale": "r", "expected_vram_impact": "none",
                  "edits": [{"search": "MATRIX_LR = 0.04", "replace": "MATRIX_LR = 0.05"}]}
        return Completion(json.dumps(answer), "fake-model", input_tokens=10, output_tokens=10, latency_s=0.1)


def karpathy_baseline() -> CampaignRecords:
    """The record after a baseline that printed program.md's own summary block and was kept."""
    summary = PROGRAM_MD.split("Once the script finishes it prints a summary like this:")[1].split("```")[1]
    metrics = parse_summary(summary)
    now, ids = datetime.now(UTC), dict(campaign="mar5", experiment_id="mar5-0000", producer="test/1")
    records = CampaignRecords()
    records.apply(RunFinished(**ids, commit=HEAD, status="ok", metrics=metrics, baseline=True, description="baseline",
                              started_at=now, finished_at=now))
    records.apply(VerdictDecided(**ids, commit=HEAD, status="keep", val_bpb=metrics["val_bpb"], memory_gb=44.0,
                                 head=HEAD, baseline=True, description="baseline"))
    return records


async def propose(files: dict[str, str], client: FakeChatClient, **options) -> tuple[FakePublisher, list[str]]:
    """Answer TICKET with the LLM researcher, files served at the base commit; the paths it read come back."""
    records, asked, publish = karpathy_baseline(), [], FakePublisher()

    async def campaign_records(campaign: str) -> CampaignRecords:
        return records

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        asked.append(path)
        return files.get(path)

    researcher = LLMResearcher(client, options=PromptOptions(**options))
    await on_proposal_requested(TICKET, ProposerContext(researcher, publish, campaign_records, read_file, "proposer/t"))
    return publish, asked


async def test_prompt_from_karpathys_program_says_what_the_harness_does_shows_readme_and_integer_metrics():
    client = FakeChatClient()
    files = {"train.py": TRAIN_PY, "program.md": PROGRAM_MD, "README.md": README_MD}
    publish, asked = await propose(files, client)
    [system], [prompt] = client.systems, client.prompts
    said = " ".join(system.split())
    assert "The unchanged baseline ran first" in said and "results.tsv is initialized" in said
    assert "Never answer with setup steps, a run tag, shell or git commands" in said
    assert "README.md" in asked
    assert "By design, training runs for a **fixed 5-minute time budget**" in prompt  # README.md's own words
    summary = prompt.split("## The previous run\n")[1].split("\n## ")[0]
    assert re.search(r"num_steps: 953(,|$)", summary, re.MULTILINE) and "depth: 8" in summary
    assert "val_bpb: 0.997900" in summary and "peak_vram_mb: 45060.2" in summary
    assert ".0," not in summary and "No result yet" not in prompt
    assert [p.description for p in publish.of(ProposalCreated)] == ["raise the matrix learning rate"]


async def test_readme_is_not_read_when_program_md_does_not_name_it():
    client = FakeChatClient()
    publish, asked = await propose({"train.py": TRAIN_PY, "program.md": "Lower val_bpb.", "README.md": README_MD}, client)
    assert "README.md" not in asked
    assert "fixed 5-minute time budget" not in client.prompts[0] and publish.of(ProposalCreated)


async def test_a_persona_of_ones_own_still_carries_the_harness_note():
    client = FakeChatClient()
    await propose({"train.py": TRAIN_PY, "program.md": PROGRAM_MD}, client, persona="You are a careful tinkerer.")
    assert client.systems[0].startswith("You are a careful tinkerer.") and client.systems[0].endswith(HARNESS)


def test_readme_over_the_budget_is_cut_with_a_note_and_train_py_stays_whole():
    train_py = "".join(f"LAYER_{i}_WIDTH = {i * 64}  # a line of the training script\n" for i in range(200))
    readme = "# A long README\n" + "".join(f"Paragraph {i} of background the model can live without.\n" for i in range(3000))
    options = PromptOptions(context_tokens=8000)
    context = ResearchContext("mar5", "mar5-0001", HEAD, train_py, karpathy_baseline().records(),
                              program_md=PROGRAM_MD, readme_md=readme)
    prompt = build_prompt(context, options)
    assert train_py in prompt
    assert "# A long README\nParagraph 0 of background" in prompt
    assert re.search(r"\[README\.md is cut here to fit the prompt: the first \d+ of its \d+ characters are shown\]", prompt)
    assert "Paragraph 2999 " not in prompt
    assert len(prompt) + len(system_prompt(options.persona)) <= 8000 * 4


def test_readme_is_cut_before_the_oldest_experiments_are_summarized():
    history = [*karpathy_baseline().records(), *(
        ExperimentRecord(f"mar5-{i:04d}", description=f"idea {i}: " + "tune something " * 5, status="discard",
                         val_bpb=1.0, run_status="ok") for i in range(1, 101))]
    context = ResearchContext("mar5", "mar5-0101", HEAD, TRAIN_PY, history, program_md=PROGRAM_MD, readme_md=README_MD)
    prompt = build_prompt(context, PromptOptions(context_tokens=8000))
    assert "| mar5-0001 |" in prompt and "summarized to fit" not in prompt  # every row, none folded away
    assert "[README.md is cut here to fit the prompt" in prompt and "By design, training runs" in prompt


def test_readme_gives_way_entirely_before_train_py_when_the_budget_is_spent():
    train_py = "X = 1\n" * 5000  # 30,000 characters: more than the whole budget leaves
    context = ResearchContext("mar5", "mar5-0001", HEAD, train_py, [], program_md=PROGRAM_MD, readme_md=README_MD)
    prompt = build_prompt(context, PromptOptions(context_tokens=8000))
    assert train_py in prompt
    assert f"README.md ({len(README_MD)} characters) is left out: the prompt has no room for it" in prompt
    assert "fixed 5-minute time budget" not in prompt
    without = build_prompt(ResearchContext("mar5", "mar5-0001", HEAD, train_py, []), PromptOptions(context_tokens=8000))
    assert "README.md" not in without  # no README, no note about one


def test_metrics_read_as_the_summary_prints_them():
    assert [figure("num_steps", 953.0), figure("depth", 8.0), figure("val_bpb", 1.0)] == ["953", "8", "1.000000"]
    assert [figure("val_bpb", 0.9979), figure("mfu_percent", 39.8), figure("peak_vram_mb", 45060.2)] == [
        "0.997900", "39.8", "45060.2"]
    assert [figure("lr", 1.5e-05), figure("status", "nan")] == ["1.5e-05", "nan"]
