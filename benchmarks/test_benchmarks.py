"""The benchmark suite: `python -m pytest benchmarks/` (kept out of the normal test run).

The same cases as `python benchmarks/run.py`, grouped by stage and size so pytest-benchmark
shows the contenders of one comparison side by side; compare medians within one run.
"""

from __future__ import annotations

import bench
import pytest

from fastlinks import _kernels

CASES = bench.cases()


@pytest.fixture(autouse=True)
def _restore_kernels():
    saved = _kernels.IMPLEMENTATION
    yield
    _kernels.use(saved)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_case(benchmark, case):
    benchmark.group = f"{case.stage} N={case.size}"
    benchmark.name = f"{case.contender} {bench.CONTENDERS.get(case.contender, '')}".strip()
    result = benchmark(case.bound())
    if case.stage.startswith(("ingest", "matrix", "client shapes")) and case.contender != "A" and case.size >= 500:
        assert len(result) == bench.CAP, "B to E hand the SDK the capped, deduplicated links"
