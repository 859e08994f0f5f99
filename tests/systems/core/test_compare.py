import math

from systems.core import ComparisonSpec, JobResult, QualityGate
from systems.core.compare import compare, geomean, geomeans, to_csv, to_markdown


def spec(direction="min", reference=None, quality=None):
    return ComparisonSpec(system="s", primary_metric="m", direction=direction, baselines=("e1", "e2"),
                          reference_baseline=reference, quality=quality, method_order=("e1", "e2", "opt"))


def r(w, m, v, seed=0, ok=True, q=None):
    metrics = {"m": v} if ok else {}
    if q is not None:
        metrics["acc"] = q
    return JobResult("s", w, m, seed, is_baseline=m.startswith("e"), metrics=metrics,
                     status="ok" if ok else "failed", error=None if ok else "x")


def test_ratio_against_best_baseline_min_direction():
    rows = compare(spec(), [r("w", "e1", 4.0), r("w", "e2", 2.0), r("w", "opt", 1.0)])
    opt = next(x for x in rows if x.method == "opt")
    assert opt.baseline_method == "e2" and opt.ratio == 2.0


def test_ratio_against_reference_and_max_direction():
    rows = compare(spec("max", reference="e1"), [r("w", "e1", 4.0), r("w", "e2", 8.0), r("w", "opt", 6.0)])
    opt = next(x for x in rows if x.method == "opt")
    assert opt.baseline_method == "e1" and opt.ratio == 1.5


def test_seeds_averaged_failures_counted_geomean():
    res = [r("a", "e1", 2.0), r("a", "opt", 1.0, 0), r("a", "opt", 3.0, 1), r("a", "opt", 0, 2, ok=False),
           r("b", "e1", 8.0), r("b", "opt", 1.0)]
    rows = compare(spec(), res)
    a = next(x for x in rows if x.method == "opt" and x.workload == "a")
    assert a.value == 2.0 and a.ratio == 1.0 and (a.n_ok, a.n_failed) == (2, 1)
    assert math.isclose(geomeans(rows)["opt"], math.sqrt(1.0 * 8.0))
    assert geomean([]) is None


def test_quality_gate():
    q = QualityGate("acc", "max", 0.01)
    rows = compare(spec(reference="e1", quality=q),
                   [r("w", "e1", 4.0, q=0.90), r("w", "opt", 1.0, q=0.895), r("w", "e2", 1.0, q=0.85)])
    by = {x.method: x for x in rows}
    assert by["opt"].quality_ok is True and by["e2"].quality_ok is False


def test_renderings():
    s = spec()
    rows = compare(s, [r("w", "e1", 2.0), r("w", "opt", 1.0), r("w", "opt", 0, 1, ok=False)])
    md = to_markdown(s, rows)
    assert "| w | opt | 1 | 2x | e1 | 1/1 |" in md and "GEOMEAN" in md
    csv = to_csv(s, rows)
    assert csv.splitlines()[0].startswith("system,metric,direction,workload")
    assert len(csv.splitlines()) == 3


def test_jobs_differing_only_in_params_get_their_own_rows():
    def rp(m, v, **jp):
        x = r("w", m, v)
        x.job_params = {"epochs": 3, **jp}
        return x

    res = [r("w", "e1", 2.0), rp("opt", 1.0, r=0.2), rp("opt", 4.0, r=0.6), rp("opt", 2.0, r=0.2)]
    rows = {x.method: x for x in compare(spec(), res)}
    assert set(rows) == {"e1", "opt[r=0.2]", "opt[r=0.6]"}  # epochs is the same for all: not in the label
    assert rows["opt[r=0.2]"].value == 1.5 and rows["opt[r=0.2]"].ratio == 2.0 / 1.5
    assert rows["opt[r=0.6]"].ratio == 0.5
