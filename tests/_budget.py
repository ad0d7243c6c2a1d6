"""How many hypothesis examples a property test runs: fewer under FASTLINKS_QUICK=1 (valgrind runs)."""

import os


def examples(n: int) -> int:
    return max(3, n // 100) if os.environ.get("FASTLINKS_QUICK", "") not in ("", "0") else n
