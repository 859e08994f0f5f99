"""Test-wide isolation: PREFECT_HOME, SYSLAB_HOME and MLflow stores in temp dirs; offline."""

import os
import tempfile

# Set before anything imports prefect/mlflow so no test touches ~/.prefect or the repo's .syslab.
_TMP = tempfile.mkdtemp(prefix="syslab-tests-")
os.environ.setdefault("PREFECT_HOME", os.path.join(_TMP, "prefect"))
os.environ["SYSLAB_HOME"] = os.path.join(_TMP, "syslab")
os.environ.pop("MLFLOW_TRACKING_URI", None)
os.environ.pop("RAY_ADDRESS", None)
os.environ.pop("PREFECT_API_URL", None)
for _k in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_MODEL", "SYSLAB_LLM_MODEL", "SYSLAB_LLM_GRAMMAR", "SYSLAB_LLM_CTX"):
    os.environ.pop(_k, None)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
