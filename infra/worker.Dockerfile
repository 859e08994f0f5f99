# syslab worker image: the pinned environment + the syslab code, for Ray nodes, the Prefect/MLflow servers
# of clusters/kuberay and the in-cluster driver. The code is baked in (no volume, no install at start),
# so every node imports exactly what the driver runs.
#
#   docker build -f infra/worker.Dockerfile --build-arg SYSLAB_GIT_SHA=$(git rev-parse --short=12 HEAD) \
#       -t syslab-worker:cpu .                                                        # CPU torch (default)
#   docker build -f infra/worker.Dockerfile --build-arg SYSLAB_GIT_SHA=$(git rev-parse --short=12 HEAD) \
#       --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 -t syslab-worker:cuda .   # CUDA torch
#
# Run as (examples; every node must reach PREFECT_API_URL, the driver MLFLOW_TRACKING_URI):
#   Ray head:      docker run --network host -e RAY_AUTH_MODE=token -e RAY_AUTH_TOKEN syslab-worker:cpu \
#                      ray start --head --port=6379 --block
#   Ray worker:    docker run --network host --gpus all -e RAY_AUTH_MODE=token -e RAY_AUTH_TOKEN \
#                      syslab-worker:cuda ray start --address=<head>:6379 --block
#   Prefect:       docker run ... syslab-worker:cpu prefect worker start --pool syslab-process   (prefect.yaml)
#   Nightly once:  docker run ... -e RAY_ADDRESS=<head>:6379 syslab-worker:cpu syslab nightly run
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
# The commit the image was built from; runs are tagged with it (there is no .git in the image).
ARG SYSLAB_GIT_SHA=unknown
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    SYSLAB_HOME=/var/lib/syslab \
    SYSLAB_GIT_SHA=${SYSLAB_GIT_SHA}

RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 ray

WORKDIR /opt/syslab
# Dependencies first (cached layer): exactly the versions of requirements/lock.txt, torch from TORCH_INDEX.
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --extra-index-url "${TORCH_INDEX}" -r requirements/lock.txt

# Then syslab itself, without letting pip touch the pinned dependencies.
COPY pyproject.toml README.md prefect.yaml ./
COPY systems systems
COPY flows flows
COPY dashboards dashboards
COPY benchmarks benchmarks
RUN pip install --no-deps -e . \
    && python -c "import systems.core, flows.nightly, flows.preflight; print('syslab import ok')" \
    && mkdir -p "${SYSLAB_HOME}" && chown ray:ray "${SYSLAB_HOME}"

# Ray's own images run as uid 1000 too; server pods mount their volumes with fsGroup 1000.
USER 1000
ENTRYPOINT ["tini", "--"]
CMD ["syslab", "--help"]
