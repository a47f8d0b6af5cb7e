# Two images from one file, each a target:
#   services  the ledger, evaluator, editor and proposers, and the creds and streams one-shots: no torch
#   trainer   git, uv and a CUDA build of torch (PyPI's Linux x86_64 wheels are CUDA builds): it syncs a workspace's
#             own dependencies when it starts (docker/trainer-entrypoint.sh) and runs a workspace without any
#             (the one `autoresearch init` makes) with this python
# Both run as the user `autoresearch`, whose uid and gid are build arguments: give it yours, so that the
# bind-mounted workspace is writable by it:
#   AUTORESEARCH_UID=$(id -u) AUTORESEARCH_GID=$(id -g) docker compose build
# `docker build .` builds the services image; `docker build --target trainer .` the trainer's.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS base
ARG AUTORESEARCH_UID=1000
ARG AUTORESEARCH_GID=1000
# --non-unique: a host's uid or gid may be one the base image already names
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*' \
    && groupadd --non-unique --gid "$AUTORESEARCH_GID" autoresearch \
    && useradd --non-unique --create-home --uid "$AUTORESEARCH_UID" --gid "$AUTORESEARCH_GID" autoresearch \
    && install -d -m 0700 -o autoresearch -g autoresearch /state /creds
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

FROM base AS trainer
ARG TORCH_VERSION=2.13.0
ARG UV_VERSION=0.13.9
# First and alone: the largest layer, built again only when a version changes, never for a change of the code.
RUN pip install "torch==${TORCH_VERSION}" "uv==${UV_VERSION}"
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY autoresearch ./autoresearch
RUN pip install ".[train]"
COPY docker/trainer-entrypoint.sh /usr/local/bin/trainer-entrypoint
# The synced environment and uv's own Pythons (~/.local/share/uv), uv's download cache, prepare.py's data and the
# Hugging Face cache are each a named volume in docker-compose.yml; a volume starts as a copy of these folders.
ENV UV_PROJECT_ENVIRONMENT=/home/autoresearch/.local/share/uv/environment \
    UV_PYTHON_INSTALL_DIR=/home/autoresearch/.local/share/uv/python \
    UV_CACHE_DIR=/home/autoresearch/.cache/uv \
    UV_LINK_MODE=copy
RUN chmod 0755 /usr/local/bin/trainer-entrypoint \
    && install -d -o autoresearch -g autoresearch /workspace /home/autoresearch/.local /home/autoresearch/.local/share \
        /home/autoresearch/.local/share/uv /home/autoresearch/.cache /home/autoresearch/.cache/uv \
        /home/autoresearch/.cache/autoresearch /home/autoresearch/.cache/huggingface
USER autoresearch
ENTRYPOINT ["trainer-entrypoint"]
CMD ["autoresearch", "--help"]

FROM base AS services
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY autoresearch ./autoresearch
RUN pip install .
USER autoresearch
ENTRYPOINT ["autoresearch"]
CMD ["--help"]
