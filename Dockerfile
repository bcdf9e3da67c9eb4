# Thotis sidecar: production image (`thotis serve` on 0.0.0.0:8000).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# The same uv as scripts/ensure-uv.sh, from PyPI.
RUN pip install "uv==0.13.8"

RUN groupadd --system --gid 10001 thotis \
    && useradd --system --uid 10001 --gid thotis --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin thotis

WORKDIR /app

# Dependencies first (cached while only the code changes); README.md, LICENSE and NOTICE are part
# of the metadata (and the licence travels with the image).
COPY pyproject.toml uv.lock README.md LICENSE NOTICE ./
RUN uv sync --frozen --no-default-groups --no-install-project

COPY core ./core
COPY calcom_client ./calcom_client
COPY thotis_ext ./thotis_ext
COPY webhooks_in ./webhooks_in
COPY webhooks_out ./webhooks_out
COPY jobs ./jobs
COPY adapter ./adapter
COPY migrations ./migrations
RUN uv sync --frozen --no-default-groups

ENV PATH="/app/.venv/bin:$PATH" \
    THOTIS_ENV=production \
    THOTIS_HOST=0.0.0.0 \
    THOTIS_PORT=8000 \
    THOTIS_DATA_DIR=/tmp/thotis

USER thotis
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('THOTIS_PORT', '8000'), timeout=3)" || exit 1

CMD ["thotis", "serve"]
