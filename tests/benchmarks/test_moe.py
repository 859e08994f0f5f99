"""The MoE benchmark's verdicts from stored results: eligibility, best a-priori row, target, break-even."""

from benchmarks.moe import report, summarize


def _rec(method, tpc, loss=0.05, dropped=0.0, steady=None, compile_cpu=10.0, recompile_cpu=0.0, repeat=0,
         step_ms=100.0, params=None, compile=True):
    return {"workload": "w", "method": method, "status": "ok", "repeat": repeat, "job_params": params or {},
            "params": {"compile": compile, "steps": 100, "batch_tokens": 1024, "n_experts": 8, "top_k": 2,
                       "d_model": 256, "d_hidden": 512, "kernel": "grouped_mm", "adam": "fused", "data": "d"},
            "series": {},
            "metrics": {"tokens_per_s": tpc / 3, "tokens_per_cpu_s": tpc, "tokens_per_cpu_s_steady": steady or tpc,
                        "compile_cpu_s": compile_cpu, "recompile_cpu_s": recompile_cpu, "train_cpu_s": 10.0,
                        "step_cpu_ms_median": step_ms, "graphs_compiled": 1.0, "recompiles": 0.0,
                        "graph_cache_hits": 0.0, "dropped_frac": dropped, "final_loss": loss, "peak_mem_mb": 50.0,
                        "mean_alpha": 1.5, "final_alpha": 1.5, "meets_drop_limit": float(dropped < 0.01),
                        "alpha_needed_max": 2.7, "alpha_needed_mean": 1.5, "oracle_alpha": 1.6}}


def test_best_apriori_is_the_fastest_static_row_within_the_drop_limit_and_the_gate():
    head = [_rec("static-cf-1.0", 300, dropped=0.08), _rec("static-cf-1.25", 200, dropped=0.02),
            _rec("static-cf-2.0", 100, step_ms=100), _rec("static-cf-oracle", 130),
            _rec("dynamic-cf", 400, loss=0.2),  # fast but worse loss: not eligible
            _rec("local-cf", 160, step_ms=60, compile_cpu=10.0, recompile_cpu=30.0),
            _rec("local-cf", 150, repeat=1, step_ms=60, compile_cpu=10.0, recompile_cpu=30.0)]
    s = summarize(head, tol=0.02)["w"]
    assert s["best_apriori"] == "static-cf-2.0" and s["best_dynamoe"] == "local-cf"
    local = s["rows"]["local-cf"]
    assert local["vs_apriori_cpu"] == 155 / 100 and local["n"] == 2
    assert not s["rows"]["dynamic-cf"]["quality_ok"]
    assert s["break_even_steps"] == 1e3 * 30.0 / 40.0  # 30 s extra compile CPU / 40 ms saved per step
    doc = report({"headline": head, "machine": {}, "repeats": 2}, "make bench name=moe")
    assert "not met" not in doc and "met** — local-cf vs static-cf-2.0: 1.55x" in doc


def test_no_apriori_row_within_the_limit_is_said_plainly():
    head = [_rec("static-cf-2.0", 100, dropped=0.05), _rec("local-cf", 160)]
    s = summarize(head, tol=0.02)["w"]
    assert s["best_apriori"] is None and s["best_dynamoe"] is None
    assert "none meets the limit" in report({"headline": head, "machine": {}}, "make bench name=moe")
