"""Scale: parse + compact of 10,000 to 1,000,000 carriers, to see the time grow linearly in N.

`python -m pytest benchmarks/test_scale.py`; compare the medians divided by N.
"""

from __future__ import annotations

import pytest

from fastlinks import LinkPolicy, LinkSet
from fastlinks.demo import make_carriers


@pytest.mark.parametrize("n", [10_000, 100_000, 1_000_000])
def test_parse_and_compact(benchmark, n):
    benchmark.group = "scale: parse + compact"
    carriers = make_carriers(n, seed=11)
    policy = LinkPolicy()
    out = benchmark.pedantic(lambda: LinkSet.from_carriers(carriers).compact(policy), rounds=5, iterations=1)
    assert out.stats.input == n
