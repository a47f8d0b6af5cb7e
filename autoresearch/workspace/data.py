"""Training text for a new workspace: the user's --data folder, handed to the workspace's prepare.py."""

import importlib.util
from pathlib import Path
from types import ModuleType

from autoresearch.workspace.errors import InitError


def load_prepare_module(workspace: Path) -> ModuleType:
    """Import a workspace's prepare.py under a private name, so its DATA_DIR points into that workspace."""
    spec = importlib.util.spec_from_file_location("autoresearch_workspace_prepare", workspace / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as error:
        # torch is an optional extra: the services run without it, the bundled workspace does not.
        hint = "pip install 'autoresearch-services[train]'" if error.name == "torch" else f"pip install {error.name}"
        raise InitError(f"the workspace's prepare.py needs {error.name}, which is not installed; install it with: {hint}") from None
    return module


def user_documents(data: Path) -> list[tuple[str, bytes]]:
    """Read (name, bytes) documents from a folder of .txt files or .parquet shards with a text column."""
    if not data.exists():
        raise InitError(f"--data path {data} does not exist")
    if not data.is_dir():
        raise InitError(f"--data path {data} is not a folder; give a folder of .txt or .parquet files")
    text_files = sorted(data.rglob("*.txt"))
    shards = sorted(data.rglob("*.parquet"))
    if not text_files and not shards:
        raise InitError(f"--data folder {data} holds no .txt or .parquet files")
    documents = [(f.relative_to(data).as_posix(), f.read_bytes()) for f in text_files]
    for shard in shards:
        documents.extend(_parquet_documents(shard, shard.relative_to(data).as_posix()))
    documents = [(name, text) for name, text in documents if text.strip()]
    if not documents:
        raise InitError(f"--data folder {data} holds no text: every file is empty")
    return documents


def _parquet_documents(shard: Path, name: str) -> list[tuple[str, bytes]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise InitError(f"reading {shard} needs pyarrow; install it with: pip install pyarrow") from None
    table = pq.read_table(shard)
    if "text" not in table.column_names:
        raise InitError(f"{shard} has no 'text' column (columns: {', '.join(table.column_names)})")
    rows = table.column("text").to_pylist()
    return [(f"{name}#{i}", row.encode("utf-8")) for i, row in enumerate(rows) if row]
