# syntax=docker/dockerfile:1
# The joinedup image: one image for every service process. The entry point is the `joinedup` command; the
# deployment picks the process with its arguments:
#   joinedup run referral      referral worker (SQLite shard stores under the data dir)
#   joinedup run consent       consent worker + its HTTP decision API (port 8081)
#   joinedup run projections   identity resolver + person view + alerts worker
#   joinedup run api           caseworker / DPO query API (FastAPI, port 8080)
#   joinedup topics apply      one-shot: create or check the catalog's topics
# Build from the repository root:  docker build -t joinedup:local .
# No secret is baked in: Kafka credentials and API tokens are mounted at run time (docs/operations.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: the locked environment
FROM ${PYTHON_IMAGE} AS build
# the same uv the Makefile bootstraps, from its official PyPI package
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app

# third-party dependencies first: this layer changes only when uv.lock or a pyproject changes
COPY pyproject.toml uv.lock ./
COPY schemas/pyproject.toml schemas/
COPY services/referral/pyproject.toml services/referral/
COPY services/consent/pyproject.toml services/consent/
COPY services/projections/pyproject.toml services/projections/
COPY deploy/local/pyproject.toml deploy/local/
RUN uv sync --frozen --all-packages --no-dev --no-install-workspace

# then the workspace's own packages and the contract's data (Avro schemas, vocabularies, topic catalog)
COPY schemas/ schemas/
COPY services/referral/src/ services/referral/src/
COPY services/consent/src/ services/consent/src/
COPY services/projections/src/ services/projections/src/
COPY deploy/local/src/ deploy/local/src/
RUN uv sync --frozen --all-packages --no-dev

# ---------------------------------------------------------------- runtime: no uv, no build tools, not root
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
RUN groupadd --system --gid "${UID}" joinedup \
 && useradd --system --uid "${UID}" --gid joinedup --home-dir /var/lib/joinedup --no-create-home \
        --shell /usr/sbin/nologin joinedup \
 && mkdir -p /var/lib/joinedup/data \
 && chown -R joinedup:joinedup /var/lib/joinedup
# the code and the environment belong to root and are read-only to the service user
COPY --from=build /app /app
WORKDIR /app
ENV PATH=/app/.venv/bin:${PATH} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    JOINEDUP_SCHEMAS_DIR=/app/schemas \
    JOINEDUP_HOME=/var/lib/joinedup \
    JOINEDUP_REFERRAL_DATA_DIR=/var/lib/joinedup/data \
    JOINEDUP_CONSENT_DATA_DIR=/var/lib/joinedup/data \
    JOINEDUP_PROJECTIONS_DATA_DIR=/var/lib/joinedup/data \
    JOINEDUP_API_DATA_DIR=/var/lib/joinedup/data
# shard stores and projection stores: mount a named volume (compose) or a PersistentVolumeClaim (k8s) here
VOLUME ["/var/lib/joinedup"]
EXPOSE 8080 8081
USER ${UID}:${UID}
ENTRYPOINT ["joinedup"]
CMD ["--help"]
