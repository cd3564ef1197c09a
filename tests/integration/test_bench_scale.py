"""The scale benchmark (bench/bench_scale.py) at tiny sizes, so it cannot rot: every
digest, reminder and check-in counted exactly, within the simulated limits."""

from __future__ import annotations

from contextlib import nullcontext

from bench import bench_scale


def test_the_scale_benchmark_runs_at_tiny_sizes_with_exact_counts(aws):
    sizes = bench_scale.tiny()
    results = bench_scale.run_sizes(sizes, stack=nullcontext)
    assert all(r["ok"] for r in results.values()), results
    digest, reminders, checkins = results["digest"], results["reminders"], results["check-ins"]
    assert digest["sent"] == digest["after a second firing"] == sizes["tenants"]  # one manager each, once
    assert reminders["delivered"] == sizes["reminders"] and reminders["at most after due_s"] <= 90
    assert checkins["root actuals"] == sizes["per_second"] * sizes["seconds"] and checkins["shards"] > 1
    assert 0 < checkins["its WCU in one second"] < bench_scale.PARTITION_WCU
    peak = "`*` feed WCU/s at 1,000 check-ins/s on {}"
    one, sixteen = checkins[peak.format("1 index shard")], checkins[peak.format("16 index shards")]
    assert one == 1000 and sixteen < one / 2  # the whole partition unsharded; spread on 16
    assert max(r.get("longest invocation_s", 0) for r in results.values()) <= 60


def test_the_report_fails_a_partition_above_half_its_limit_at_the_issues_rate():
    sizes = {**bench_scale.BIG, "per_second": 100}  # measured at a tenth of the rate: scaled up
    figures = {
        "ok": True,
        "longest invocation_s": 1.0,
        "hottest write partition": "GSI1:T#big#LASTCHECKIN",
        "its WCU in one second": 40,
        "hottest read partition": "T#big#TENANT",
        "its reads in one second": 10,
    }
    assert "**PASS**" in bench_scale.render({"check-ins": figures}, sizes)  # 400 WCU/s at 1,000 a second
    hot = {**figures, "its WCU in one second": 60}  # 600 WCU/s: above half of 1,000
    assert "**FAIL**" in bench_scale.render({"check-ins": hot}, sizes)
    assert "**FAIL**" in bench_scale.render({"check-ins": {**figures, "its reads in one second": 400}}, sizes)
