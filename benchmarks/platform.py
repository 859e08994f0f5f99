"""Platform benchmark: cold HAG smoke flow, flow overhead cold/warm, Ray vs serial speedup.

    make bench name=platform        # == .venv/bin/python -m benchmarks.platform

Writes docs/results/platform.md. Each measurement runs the real CLI in a fresh process with fresh
stores (cold) or against `syslab services` started for the purpose (warm).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from systems.core import git_sha, hardware_description

ROOT = Path(__file__).resolve().parents[1]
SYSLAB = str(Path(sys.executable).parent / "syslab")


def _env(home: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "RAY_ADDRESS", "RAY_AUTH_MODE")}
    env.update(SYSLAB_HOME=home, PREFECT_HOME=os.path.join(home, "prefect"), PYTHONUNBUFFERED="1", **extra)
    return env


def run_cli(args: list[str], env: dict) -> tuple[float, dict]:
    """Run `syslab run ... --json` in a fresh process; (process wall seconds, summary)."""
    t0 = time.perf_counter()
    p = subprocess.run([SYSLAB, "run", *args, "--json"], env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"syslab run {' '.join(args)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    out = p.stdout
    return wall, json.loads(out[out.index("{"):])


def serial_cpu(n_jobs: int) -> float:
    env = _env(tempfile.mkdtemp(prefix="bench-serial-"), SYSLAB_EXTRA_SYSTEMS="benchmarks.cpu_system")
    code = ("import time;from systems.core import get_system;from systems.core.execute import execute;"
            "spec=get_system('cpuburn');jobs=spec.jobs('default');"
            f"jobs=jobs[:{n_jobs}];execute(jobs[0]);"  # warm-up: imports (torch via seeding), like Ray's
            "t=time.perf_counter();[execute(j) for j in jobs];"
            "print(time.perf_counter()-t)")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(p.stdout.strip().splitlines()[-1])


def ray_only(n_jobs: int) -> float:
    """The same jobs as plain Ray tasks (no Prefect, no MLflow): the scheduler's own speedup."""
    env = _env(tempfile.mkdtemp(prefix="bench-ray-"), SYSLAB_EXTRA_SYSTEMS="benchmarks.cpu_system")
    code = ("import os,time,ray;from systems.core import get_system;from systems.core.execute import execute;"
            "ray.init('local',num_cpus=os.cpu_count(),include_dashboard=False,log_to_driver=False);"
            "f=ray.remote(num_cpus=1)(execute);jobs=get_system('cpuburn').jobs('default')"
            f"[:{n_jobs}];"
            "ray.get([f.remote(j) for j in jobs[:os.cpu_count()]]);"  # warm the workers
            "t=time.perf_counter();ray.get([f.remote(j) for j in jobs]);print(time.perf_counter()-t)")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(ROOT / "docs/results/platform.md"))
    ap.add_argument("--skip-warm", action="store_true", help="skip the measurement with services running")
    a = ap.parse_args()
    rows: list[tuple[str, str, str]] = []

    print("cold HAG smoke flow ...", flush=True)
    cold_home = tempfile.mkdtemp(prefix="bench-cold-")
    wall, s = run_cli(["hag", "--suite", "smoke"], _env(cold_home))
    rows.append(("HAG smoke flow, cold (process wall: imports, Prefect+Ray start, jobs, MLflow)", f"{wall:.1f} s", "≤ 45 s"))
    rows.append(("  of which flow wall / job compute", f"{s['wall_s']:.1f} s / {s['job_compute_s']:.1f} s", ""))
    rows.append(("Flow overhead, cold (flow wall − Σ job compute)", f"{s['overhead_s']:.1f} s", ""))

    if not a.skip_warm:
        print("warm services ...", flush=True)
        from flows import services as svc

        warm_home = tempfile.mkdtemp(prefix="bench-warm-")
        env = _env(warm_home, SYSLAB_MLFLOW_PORT="5071", SYSLAB_PREFECT_PORT="4271", SYSLAB_RAY_PORT="6371")
        os.environ.update({k: env[k] for k in ("SYSLAB_HOME", "SYSLAB_MLFLOW_PORT", "SYSLAB_PREFECT_PORT",
                                                  "SYSLAB_RAY_PORT")})
        try:
            if not svc.up(timeout=300):
                raise RuntimeError("services did not come up")
            for item in svc.services():
                env.update(item.env)
            run_cli(["hag", "--suite", "smoke"], env)  # first run against the services warms them
            overheads = []
            for _ in range(2):
                _, s = run_cli(["hag", "--suite", "smoke"], env)
                overheads.append(s["overhead_s"])
            rows.append(("Flow overhead, warm `make services` (best of 2 after a warm-up run)",
                         f"{min(overheads):.1f} s", "≤ 3 s"))
        finally:
            svc.down()

    n = 8
    print("CPU-bound jobs ...", flush=True)
    serial = serial_cpu(n)
    rayt = ray_only(n)
    _, s = run_cli(["cpuburn", "--suite", "default"],
                   _env(tempfile.mkdtemp(prefix="bench-cpu-"), SYSLAB_EXTRA_SYSTEMS="benchmarks.cpu_system"))
    cpus = os.cpu_count()
    rows.append((f"{n} CPU-bound jobs, serial in one process", f"{serial:.1f} s", ""))
    rows.append((f"  same on plain Ray ({cpus} CPUs, warm workers): speedup", f"{serial / rayt:.2f}× ({rayt:.1f} s)", "≥ 1.8× with 2 CPUs"))
    rows.append(("  same through the full flow (Prefect+Ray+MLflow, cold workers): speedup of flow wall",
                 f"{serial / s['wall_s']:.2f}× ({s['wall_s']:.1f} s)", ""))

    cmd = "make bench name=platform"
    lines = ["# Platform benchmark", "", f"Command: `{cmd}` (`python -m benchmarks.platform`)  ",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ", f"Hardware: {hardware_description()}  ",
             f"Git: {git_sha()}", "", "| measurement | result | target |", "|---|---|---|"]
    lines += [f"| {a_} | {b} | {c} |" for a_, b, c in rows]
    lines += ["", "Cold = a fresh process and fresh stores (`SYSLAB_HOME`, `PREFECT_HOME` in new temp dirs): "
              "Python imports, the ephemeral Prefect server's first start (SQLite migration), a new embedded "
              "Ray, Ray worker start-up (each worker imports Prefect and the system), MLflow schema creation.",
              "Warm = `syslab services up` (MLflow server, Prefect server, Ray head) already running and used once.",
              "Overhead = flow wall time − Σ job compute time as each job measured it."]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
