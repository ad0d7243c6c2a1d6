"""Instruction counts per call, which do not move with the machine's load: each case runs in a
fresh interpreter under valgrind's callgrind twice, once with WARMUP calls and once with
WARMUP + K calls; the difference divided by K is what one call costs once CPython has
specialized its bytecode, setup and interpreter start excluded.

The count does move with where the case's objects land in CPython's small-object pools: the same
build read 770,000 to 835,000 instructions a batch (b3multi per-row, 500) as a few small objects
more or fewer were allocated first (a checkout's path, a longer or shorter name, is enough), most
layouts within 0.3% of 798,000. So each case is counted in LAYOUTS layouts and the median is
reported: differences between builds under about 1% are not measurements.

    python benchmarks/run.py --instructions --stage ingest --sizes 500 2000

Needs valgrind (`apt-get install valgrind`). Slow (each run starts Python under callgrind), so
pick stages and sizes.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
WARMUP = 50  # calls before counting
LAYOUTS = 5  # heap layouts each case is counted in (the median is reported)
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")
# Without these two runs of the same thing differ by millions of instructions: OpenBLAS's idle
# threads spin for as long as the machine lets them, and hash seeds change every dict's layout.
_STEADY = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def _child(case_id: str, calls: int, layout: int) -> None:
    """Run inside valgrind: `layout` small objects first (to move the case's own), build the case,
    call it WARMUP times, then `calls` more times."""
    sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]
    import bench

    shift = [str(k) for k in range(layout)]  # noqa: F841  # alive while the case runs

    (case,) = [c for c in bench.cases((int(case_id.rsplit("-", 1)[1]),)) if c.id == case_id]
    call = case.bound()
    for _ in range(WARMUP):  # CPython specializes bytecode over its first runs: count after that
        call()
    for _ in range(calls):
        call()


def _collected(case_id: str, calls: int, layout: int) -> int:
    """Instructions of a whole run of `_child` under callgrind."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    command += [str(Path(__file__).resolve()), case_id, str(calls), str(layout)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=_STEADY)
    found = _COLLECTED.findall(done.stderr)
    if not found:
        raise RuntimeError(f"callgrind reported no count for {case_id}:\n{done.stderr[-2000:]}")
    return int(found[-1])


def instructions(case_id: str, calls: int, layouts: int = LAYOUTS) -> int:
    """Instructions of one call of `case_id`: (run with WARMUP + calls) - (run with WARMUP), over
    calls; the median over `layouts` heap layouts."""
    if shutil.which("valgrind") is None:
        raise SystemExit("--instructions needs valgrind: apt-get install valgrind")
    counts = [
        (_collected(case_id, calls, layout) - _collected(case_id, 0, layout)) // calls for layout in range(layouts)
    ]
    return int(statistics.median(counts))


def report(
    stages: Sequence[str],
    sizes: Sequence[int],
    calls: int,
    progress: Callable[[str], None] | None = None,
    layouts: int = LAYOUTS,
) -> list[str]:
    """Markdown: instructions per call of each contender, and each one's ratio to E."""
    import bench

    lines = [
        f"**instructions per call** (callgrind: {calls} calls after {WARMUP}, a fresh interpreter each; "
        f"the median of {layouts} heap layouts)",
        "",
    ]
    lines += ["| case | instructions | / E | / stock |", "|---|---:|---:|---:|"]
    fixed = (bench.OVERHEAD, "export")  # stages whose sizes are their own (links per span, the cap)
    groups: dict[tuple[str, int], list[bench.Case]] = {}
    for case in bench.cases(tuple(sizes)):
        if case.stage in stages and (case.size in sizes or case.stage in fixed):
            groups.setdefault((case.stage, case.size), []).append(case)
    for (stage, n), chosen in groups.items():
        counts = {}
        for case in chosen:
            if progress:
                progress(f"{case.id} (callgrind)")
            counts[case.contender] = instructions(case.id, calls, layouts)
        base, stock = counts.get("E"), counts.get("stock")
        for contender, count in counts.items():
            to_e = f"{count / base:,.2f}×" if base else "—"
            to_stock = f"{count / stock:,.3f}×" if stock else "—"
            lines.append(f"| {stage} {contender} N={n:,} | {count:,} | {to_e} | {to_stock} |")
    return lines


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
