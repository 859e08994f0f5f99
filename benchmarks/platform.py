"""Platform benchmark: cold HAG smoke flow, flow overhead cold/warm, Ray vs serial speedup.

    make bench name=platform        # == .venv/bin/python -m benchmarks.platform [--quick] [--report-only]

Writes docs/results/platform.md (and the raw figures as docs/results/platform/results.json). Each
measurement runs the real CLI in a fresh process with fresh stores (cold) or against `syslab services`
started for the purpose (warm). ``--quick`` skips the warm measurement and uses 4 CPU-bound jobs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import common
from systems.core import git_sha

ROOT = Path(__file__).resolve().parents[1]
NAME = "platform"
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


def measure(quick: bool) -> dict:
    """Run every measurement; the raw figures (seconds) as a dict."""
    out: dict = {"info": common.machine(), "git": git_sha(), "quick": quick}
    print("cold HAG smoke flow ...", flush=True)
    wall, s = run_cli(["hag", "--suite", "smoke"], _env(tempfile.mkdtemp(prefix="bench-cold-")))
    out["cold"] = {"process_wall_s": wall, **{k: s.get(k) for k in ("wall_s", "job_compute_s", "overhead_s",
                                                                    "worker_import_s", "n_jobs", "n_ok")}}
    if not quick:
        print("warm services ...", flush=True)
        from flows import services as svc

        env = _env(tempfile.mkdtemp(prefix="bench-warm-"), SYSLAB_MLFLOW_PORT="5071", SYSLAB_PREFECT_PORT="4271",
                   SYSLAB_RAY_PORT="6371", SYSLAB_RAY_CLIENT_PORT="10071")
        os.environ.update({k: env[k] for k in ("SYSLAB_HOME", "SYSLAB_MLFLOW_PORT", "SYSLAB_PREFECT_PORT",
                                                  "SYSLAB_RAY_PORT", "SYSLAB_RAY_CLIENT_PORT")})
        try:
            if not svc.up(timeout=300):
                raise RuntimeError("services did not come up")
            for item in svc.services():
                env.update(item.env)
            run_cli(["hag", "--suite", "smoke"], env)  # first run against the services warms them
            out["warm_overheads_s"] = [run_cli(["hag", "--suite", "smoke"], env)[1]["overhead_s"] for _ in range(2)]
        finally:
            svc.down()
    n = 4 if quick else 8
    print("CPU-bound jobs ...", flush=True)
    serial, rayt = serial_cpu(n), ray_only(n)
    _, s = run_cli(["cpuburn", "--suite", "smoke" if quick else "default"],
                   _env(tempfile.mkdtemp(prefix="bench-cpu-"), SYSLAB_EXTRA_SYSTEMS="benchmarks.cpu_system"))
    out["cpu"] = {"n_jobs": n, "serial_s": serial, "ray_s": rayt, "flow_wall_s": s["wall_s"],
                  "flow_worker_import_s": s.get("worker_import_s")}
    return out


def render(r: dict, command: str) -> str:
    c, cpu = r["cold"], r["cpu"]
    rows = [["HAG smoke flow, cold (process wall: imports, Prefect+Ray start, jobs, MLflow)",
             f"{c['process_wall_s']:.1f} s", "≤ 45 s"],
            ["  of which flow wall / job compute / workers' import warm-up",
             f"{c['wall_s']:.1f} s / {c['job_compute_s']:.1f} s / {c.get('worker_import_s') or 0:.1f} s", ""],
            ["Flow overhead, cold (flow wall − Σ job compute − worker import warm-up)", f"{c['overhead_s']:.1f} s", ""]]
    if r.get("warm_overheads_s"):
        rows.append(["Flow overhead, warm `make services` (best of 2 after a warm-up run)",
                     f"{min(r['warm_overheads_s']):.1f} s", "≤ 3 s"])
    cpus = r["info"]["cpus"]
    rows += [[f"{cpu['n_jobs']} CPU-bound jobs, serial in one process", f"{cpu['serial_s']:.1f} s", ""],
             [f"  same on plain Ray ({cpus} CPUs, warm workers): speedup",
              f"{cpu['serial_s'] / cpu['ray_s']:.2f}× ({cpu['ray_s']:.1f} s)", "≥ 1.8× with 2 CPUs"],
             ["  same through the full flow (Prefect+Ray+MLflow, cold workers): speedup of flow wall",
              f"{cpu['serial_s'] / cpu['flow_wall_s']:.2f}× ({cpu['flow_wall_s']:.1f} s)", ""]]
    return (common.header("Platform benchmark", command, r["info"], extra=f"Git {r['git']}.")
            + common.md_table(["measurement", "result", "target"], rows)
            + "\nCold = a fresh process and fresh stores (`SYSLAB_HOME`, `PREFECT_HOME` in new temp dirs): Python "
              "imports, the temporary Prefect API's first start (SQLite migration), a new embedded Ray, Ray worker "
              "start-up, MLflow schema creation. The workers' import warm-up (system modules, numpy, torch) is "
              "measured apart and kept out of each job's time.\n"
              "Warm = `syslab services up` (MLflow server, Prefect server, Ray head) already running and used once.\n"
              "Overhead = flow wall time − Σ job compute time as each job measured it − worker import warm-up.\n"
            + ("\n`--quick`: no warm measurement, 4 CPU-bound jobs.\n" if r["quick"] else ""))


def main(argv: list[str] | None = None) -> int:
    p = common.parser(NAME, __doc__)
    a = p.parse_args(argv)
    d = common.results_dir(a.out)
    store = d / NAME / ("results-quick.json" if a.quick else "results.json")
    if a.report_only:
        r = common.load(store)
    else:
        r = measure(a.quick)
        r["command"] = common.command_line(NAME, argv)
        common.save(store, r)
    text = render(r, r["command"])
    (d / f"{NAME}.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
