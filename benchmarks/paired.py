"""Two builds of the compiled kernels timed against each other in one process.

Each pair calls a case once on the baseline's kernels and once on this checkout's, in turns (the
order swapped every pair), and keeps the ratio of the two. This machine's speed moves by up to 2x
from one second to the next, so medians of cases timed alone, minutes apart, do not repeat; the
two calls of a pair, microseconds apart, see the same speed, and the median pair ratio does: a
build against a copy of itself read 0.984-1.018 in 24 readings of matrix cases (quartiles within
about 3%, 6-12% at 10,000 carriers). Between runs of one comparison a case moved by up to 0.04
(where each build's code and data land differs from run to run): run it three times and read
ranges.

    git worktree add /tmp/base HEAD~1 && (cd /tmp/base && python setup.py build_ext --inplace)
    python benchmarks/paired.py /tmp/base/src --stage "matrix b3multi shared" --sizes 500 2000

Only the kernels differ between the two sides (the Python around them is this checkout's), so
the baseline's kernels must take the same arguments. Times E, the fastlinks cases on compiled
kernels, in stages that look the kernels up as they run (ingest, matrix, client shapes,
compaction): a `LinkProcessor` binds its scan when it is made, so the processor stages would
run this build's scan on both sides.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests")]

import bench  # noqa: E402  # benchmarks/ and tests/ on the path first, as run.py does

from fastlinks import _kernels  # noqa: E402


def load_kernels(src: Path | str) -> dict[str, ModuleType]:
    """The compiled kernel modules of the build whose package is `src`/fastlinks, loaded under
    their own names but beside this process's (not registered in sys.modules)."""
    modules = {}
    for key, name in _kernels._NAMES.items():
        stem = Path(src, *name.split("."))
        found = [p for s in importlib.machinery.EXTENSION_SUFFIXES if (p := Path(f"{stem}{s}")).exists()]
        if not found:
            raise SystemExit(f"paired: no compiled {name} under {src} (build it there with build_ext --inplace)")
        loader = importlib.machinery.ExtensionFileLoader(name, str(found[0]))
        spec = importlib.util.spec_from_loader(name, loader)
        assert spec is not None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        modules[key] = module
    return modules


def _bind(modules: dict[str, ModuleType]) -> None:
    vars(_kernels).update(modules)  # what _kernels.use() does, with these modules


def pairs(case: bench.Case, baseline: dict[str, ModuleType], count: int) -> tuple[list[int], list[int]]:
    """Nanoseconds of `count` calls of `case` on the baseline's kernels and on these, in pairs.
    One call, built once, serves both sides, so both read the same batch at the same addresses
    (with a batch built for each side, one run read a case 1.20 where the next two read 1.02-1.03,
    quartiles tight in all three: where each batch lands in memory differs)."""
    _kernels.use("cython")
    current = {key: vars(_kernels)[key] for key in _kernels._NAMES}
    try:
        call = case.setup()
        for modules in (baseline, current):  # a first call on each outside the timing
            _bind(modules)
            call()
        times: tuple[list[int], list[int]] = ([], [])
        for k in range(count):
            for side in (0, 1) if k % 2 == 0 else (1, 0):
                _bind(baseline if side == 0 else current)
                start = time.perf_counter_ns()
                call()
                times[side].append(time.perf_counter_ns() - start)
        return times
    finally:
        _bind(current)


def report(cases: Sequence[bench.Case], baseline: dict[str, ModuleType], count: int) -> list[str]:
    """Markdown: each case's medians on both builds and the median baseline/current pair ratio."""
    lines = [
        f"**paired** ({count} pairs a case; ratio = baseline time / this build's time, per pair)",
        "",
        "| case | baseline | this build | median pair ratio | quartiles |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        base, ours = pairs(case, baseline, count)
        ratios = [b / o for b, o in zip(base, ours, strict=True)]
        low, _, high = statistics.quantiles(ratios, n=4)
        lines.append(
            f"| {case.stage} N={case.size:,} | {statistics.median(base) / 1e3:,.1f} µs "
            f"| {statistics.median(ours) / 1e3:,.1f} µs | {statistics.median(ratios):.3f} | {low:.3f}-{high:.3f} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/paired.py", description=__doc__.splitlines()[0])
    parser.add_argument("baseline", help="the other build's source directory (holding fastlinks/)")
    parser.add_argument("--stage", nargs="+", required=True, help="the stages to time")
    parser.add_argument("--sizes", nargs="+", type=int, default=[500, 2000], help="batch sizes (default 500 2000)")
    parser.add_argument("--pairs", type=int, default=1000, help="pairs a case (default 1000)")
    args = parser.parse_args(argv)
    chosen = [c for c in bench.cases(tuple(args.sizes)) if c.stage in args.stage and c.contender == "E"]
    if not chosen:
        raise SystemExit(f"paired: no E case in {args.stage} at {args.sizes}")
    print("\n".join(report(chosen, load_kernels(args.baseline), args.pairs)))


if __name__ == "__main__":
    main()
