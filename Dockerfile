# cdc-sync's container image: one image for every process (run, serve, writer, sandbox, console,
# the one-shot `db migrate`); the command picks the process. See README "Deploy".
#   docker build -t cdc-sync:0.1.0 .                           # without the report extra
#   docker build --build-arg EXTRAS=report -t cdc-sync:0.1.0 . # with `cdc-sync report` (matplotlib)
# tests/ops/test_dockerfile.py lints this file (hadolint) and checks it installs pyproject's package.

# --- build: the project and its dependencies into a virtualenv ------------------------------------
FROM python:3.11.7-slim-bookworm AS build
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY cdc_sync ./cdc_sync
RUN python -m venv /opt/cdc-sync \
 && /opt/cdc-sync/bin/pip install --no-cache-dir "/src${EXTRAS:+[$EXTRAS]}" \
 && /opt/cdc-sync/bin/python -m compileall -q /opt/cdc-sync/lib

# --- runtime: the virtualenv, the config, connector configs and contracts; no compiler, no pip cache
FROM python:3.11.7-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 cdc-sync \
 && useradd --system --uid 10001 --gid cdc-sync --home-dir /app --no-create-home --shell /usr/sbin/nologin cdc-sync
COPY --from=build /opt/cdc-sync /opt/cdc-sync
WORKDIR /app
COPY config ./config
COPY deploy/container/cdc-sync.toml ./config/container.toml
COPY deploy/container/healthcheck.py ./healthcheck.py
COPY connectors ./connectors
COPY schemas ./schemas
# No secret here: DSNs, keys and vendor credentials come from the environment at run time.
# Listeners bind every interface inside the container (the host publishes what it wants).
ENV PATH=/opt/cdc-sync/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CDC_SYNC_CONFIG=/app/config/container.toml \
    CDC_SYNC_CONNECTORS_DIR=/app/connectors \
    CDC_SYNC_METRICS_HOST=0.0.0.0 \
    CDC_SYNC_LOG_FORMAT=json \
    CDC_SYNC_HEALTHCHECK_URL=http://127.0.0.1:8000/readyz
USER 10001:10001
EXPOSE 8000 9108 9109 9110
# One image, several processes on different ports: CDC_SYNC_HEALTHCHECK_URL says which endpoint
# this container answers on (default: serve's /readyz); compose and Kubernetes set their own.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["python", "/app/healthcheck.py"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["cdc-sync"]
CMD ["--help"]
