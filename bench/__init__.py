"""Benchmarks. `make bench` runs every ``bench/bench_*.py`` module's ``run()`` and writes
bench/REPORT.md. Each module measures against its own baseline in the same run."""
