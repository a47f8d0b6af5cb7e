# One Dockerfile for all five services; the command picks the service.
# Only the trainer image needs torch, for the workspace's train.py: build it with --build-arg WITH_TORCH=1.
FROM python:3.11-slim

ARG WITH_TORCH=0
ARG TORCH_VERSION=2.13.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

WORKDIR /app
RUN if [ "$WITH_TORCH" = "1" ]; then pip install --no-cache-dir "torch==${TORCH_VERSION}"; fi
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY autoresearch ./autoresearch
RUN if [ "$WITH_TORCH" = "1" ]; then pip install --no-cache-dir ".[train]"; else pip install --no-cache-dir .; fi

ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["autoresearch"]
CMD ["--help"]
