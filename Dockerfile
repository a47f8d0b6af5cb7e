# One image for all five services; the command picks the service.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
RUN apt-get update \
    && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system --add safe.directory '*'

WORKDIR /app
RUN pip install --no-cache-dir "torch==${TORCH_VERSION}"
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY autoresearch ./autoresearch
RUN pip install --no-cache-dir .

ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["autoresearch"]
CMD ["--help"]
