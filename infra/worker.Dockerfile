# syslab worker image: the pinned environment + the syslab checkout, for Ray nodes and Prefect workers.
#
#   docker build -f infra/worker.Dockerfile -t syslab-worker .                      # CPU torch (default)
#   docker build -f infra/worker.Dockerfile --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 \
#       -t syslab-worker:cuda .                                                       # CUDA torch wheels
#
# Run as (examples; every node must reach PREFECT_API_URL and MLFLOW_TRACKING_URI):
#   Ray head:      docker run --network host -e PREFECT_API_URL=... -e MLFLOW_TRACKING_URI=... syslab-worker \
#                      ray start --head --port=6379 --dashboard-host=0.0.0.0 --block
#   Ray worker:    docker run --network host --gpus all ... syslab-worker ray start --address=<head>:6379 --block
#   Prefect:       docker run ... syslab-worker prefect worker start --pool syslab-process   (prefect.yaml)
#   Nightly once:  docker run ... -e RAY_ADDRESS=<head>:6379 syslab-worker syslab nightly run
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    SYSLAB_HOME=/var/lib/syslab

# git: syslab tags every run with the commit (or set SYSLAB_GIT_SHA at run time when .git is not copied).
RUN apt-get update \
    && apt-get install -y --no-install-recommends git tini \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/syslab
# Dependencies first (cached layer): exactly the versions of requirements/lock.txt, torch from TORCH_INDEX.
COPY requirements/lock.txt requirements/lock.txt
RUN pip install --extra-index-url "${TORCH_INDEX}" -r requirements/lock.txt

# Then syslab itself, without letting pip touch the pinned dependencies.
COPY pyproject.toml README.md ./
COPY systems systems
COPY flows flows
COPY dashboards dashboards
COPY benchmarks benchmarks
COPY prefect.yaml ./
RUN pip install --no-deps -e . \
    && python -c "import systems.core, flows.nightly; print('syslab import ok')" \
    && mkdir -p "${SYSLAB_HOME}"

ENTRYPOINT ["tini", "--"]
CMD ["syslab", "--help"]
