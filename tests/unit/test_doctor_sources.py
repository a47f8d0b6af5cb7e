"""What doctor reads from a workspace's files without running them: constants, imports, the need for CUDA."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autoresearch.doctor.constants import module_constants
from autoresearch.doctor.sources import SourceError, needs_cuda, parse_file, top_level_imports
from tests.fixtures.karpathy_like import CUDA_TRAIN, PREPARE

TEMPLATE = Path(__file__).resolve().parents[2] / "autoresearch" / "workspace" / "template"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_karpathys_data_constants_follow_home() -> None:
    constants = module_constants(PREPARE, Path("/clone/prepare.py"), {"HOME": "/home/ada"})
    assert constants["DATA_DIR"] == "/home/ada/.cache/autoresearch/data"
    assert constants["TOKENIZER_DIR"] == "/home/ada/.cache/autoresearch/tokenizer"
    assert constants["VAL_FILENAME"] == "shard_06542.parquet"


def test_the_bundled_prepare_keeps_its_data_beside_itself() -> None:
    source = (TEMPLATE / "prepare.py").read_text()
    assert module_constants(source, Path("/ws/prepare.py"), {})["DATA_DIR"] == Path("/ws/.cache/data")


@pytest.mark.parametrize("expression", [
    '"x" * 100000', '"%99999d" % 1', 'f"{1:>999999}"', "10**100", "1000000000000 * 1000000000000",
    "compute()", "open('/etc/passwd').read()", "__import__('os').system('true')", "[0] * 5000",
])
def test_what_cannot_be_worked_out_safely_is_left_out(expression: str) -> None:
    assert "VALUE" not in module_constants(f"VALUE = {expression}\n", Path("/p.py"), {})


def test_a_constant_reassigned_in_an_unknown_way_is_no_longer_known() -> None:
    constants = module_constants('DATA_DIR = "/a"\nDATA_DIR = locate()\nOTHER = os.environ.get("X", "/d")\n',
                                 Path("/p.py"), {"X": "/from-env"})
    assert "DATA_DIR" not in constants and constants["OTHER"] == "/from-env"


def test_only_unconditional_top_level_imports_count() -> None:
    tree = ast.parse(
        "from __future__ import annotations\nimport torch.nn as nn\nfrom kernels import get_kernel\n"
        "from . import sibling\ntry:\n    import optional\nexcept ImportError:\n    pass\n"
        "if False:\n    import never\ndef f():\n    import inner\nimport os, torch\n"
    )
    assert top_level_imports(tree) == ["torch", "kernels", "os"]


def test_cuda_is_needed_only_without_a_fallback() -> None:
    assert needs_cuda(ast.parse(CUDA_TRAIN))
    assert not needs_cuda(parse_file(TEMPLATE / "train.py"))  # "cuda" if torch.cuda.is_available() else "cpu"
    assert not needs_cuda(parse_file(FIXTURES / "toy_train.py"))  # prints "CUDA out of memory", uses none
    assert needs_cuda(ast.parse("x = model.cuda()\n"))


def test_a_file_that_does_not_parse_says_where(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("def broken(:\n")
    with pytest.raises(SourceError, match=r"train.py does not parse: .* \(line 1\)"):
        parse_file(tmp_path / "train.py")
