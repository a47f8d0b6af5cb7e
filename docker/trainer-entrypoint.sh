#!/usr/bin/env bash
# The trainer container's start: the workspace's own dependencies into a cached environment, then the command.
#
# A workspace with pyproject.toml (Karpathy's autoresearch) is synced by uv into UV_PROJECT_ENVIRONMENT, a named
# volume, from UV_CACHE_DIR, another one, so a restart downloads nothing again; with --locked when uv.lock is
# there, so the environment is exactly the lock's. Runs then use that environment as it is (UV_NO_SYNC):
# `uv run train.py` never resolves, downloads or writes a lock inside a run's clean room.
# A workspace without pyproject.toml (the one `autoresearch init` makes) runs with the image's python, which has
# torch, unless AUTORESEARCH_TRAIN_COMMAND says otherwise: its autoresearch.toml names the host's interpreter.
set -euo pipefail

workspace="${AUTORESEARCH_WORKSPACE:-/workspace}"
data_cache="${HOME:-/home/autoresearch}/.cache/autoresearch"
say() { echo "trainer-entrypoint: $*" >&2; }

if [ -f "$workspace/pyproject.toml" ]; then
    lock=()
    if [ -f "$workspace/uv.lock" ]; then
        lock=(--locked)
    fi
    say "syncing the workspace's dependencies into ${UV_PROJECT_ENVIRONMENT:-$workspace/.venv}"
    # the workspace's own code runs from each run's clean room: it is never installed
    if ! (cd "$workspace" && uv sync --no-install-project ${lock[@]+"${lock[@]}"}); then
        say "uv sync failed in $workspace (uv's reason is above): with --locked, uv.lock must match pyproject.toml" \
            "(run \`uv lock\` in the workspace and commit it); otherwise check the network and the uv volumes"
        exit 1
    fi
    export UV_NO_SYNC=1
    if [ -d "$data_cache" ] && [ -z "$(ls -A "$data_cache")" ]; then
        say "the data cache $data_cache is empty; if prepare.py keeps its data there (Karpathy's does)," \
            "fill it once with: docker compose run --rm trainer-prepare"
    fi
elif [ -z "${AUTORESEARCH_TRAIN_COMMAND:-}" ]; then
    export AUTORESEARCH_TRAIN_COMMAND="python train.py"
    say "no pyproject.toml in $workspace: runs use the image's python ($AUTORESEARCH_TRAIN_COMMAND)"
fi

exec "$@"
