"""Run every benchmark case once in this process and print medians and ratios as markdown.

    pip install ".[bench]"
    python benchmarks/run.py --rounds 11 --plot docs/benchmarks.png

`--sizes` picks the batch sizes. `--matrix` times the ingest matrix alone (its cells' A and E
sampled in turn, as the whole run samples them). `--instructions` counts instructions per call
under valgrind instead of timing (see instructions.py), for ratios a noisy machine cannot move.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parent.parent / "tests")]

import bench  # noqa: E402
import instructions  # noqa: E402
import report  # noqa: E402


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _progress(total: int):  # type: ignore[no-untyped-def]
    """A progress line per case on stderr: its count, and on a terminal an estimate of the time left."""
    start = time.monotonic()
    done = 0

    def report(name: str) -> None:
        nonlocal done
        done += 1
        left = ""
        if sys.stderr.isatty() and done > 1:
            seconds = (time.monotonic() - start) / (done - 1) * (total - done + 1)
            left = f", about {seconds:.0f} s left"
        print(f"  [{done}/{total}{left}] {name}", file=sys.stderr)

    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/run.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=_positive, nargs="+", metavar="N", help="batch sizes (default: 10 100 500 2000 10000)"
    )
    parser.add_argument(
        "--rounds", type=_positive, default=7, help="samples per case; the median is reported (default 7)"
    )
    parser.add_argument("--plot", metavar="FILE.png", help="also draw a chart (needs matplotlib: the bench extra)")
    parser.add_argument(
        "--matrix", action="store_true", help="time the ingest matrix alone (each cell's A and E sampled in turn)"
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per call under valgrind's callgrind instead of timing (repeatable on a busy machine)",
    )
    parser.add_argument("--stage", nargs="+", default=["ingest"], help="with --instructions: the stages to count")
    parser.add_argument("--calls", type=_positive, default=20, help="with --instructions: calls counted per case")
    parser.add_argument(
        "--layouts",
        type=_positive,
        default=instructions.LAYOUTS,
        help="with --instructions: heap layouts each case is counted in, the median reported (default %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.matrix and (args.plot or args.instructions):
        parser.error("--matrix times the matrix alone: not with --plot or --instructions")
    if args.instructions:
        sizes = tuple(args.sizes or (500,))
        progress = lambda name: print(f"  {name}", file=sys.stderr)  # noqa: E731
        print("\n".join(instructions.report(args.stage, sizes, args.calls, progress, args.layouts)))
        return 0
    if args.matrix:
        sizes = tuple(args.sizes or bench.MATRIX_SIZES)
        cells = len(bench.MATRIX_STAGES) * len([n for n in sizes if n in bench.MATRIX_SIZES])
        results = bench.run(sizes, args.rounds, progress=_progress(cells), stages=bench.MATRIX_STAGES)
        print("\n".join(report.matrix_table(results, sizes)))
        for label, value, goal, met in report.matrix_targets(results, sizes):
            print(f"- {'met' if met else 'MISSED'}: {label}: {value} (target {goal})")
        return 0
    if args.plot:
        import matplotlib  # noqa: F401  # fail now, not after the whole run
    sizes = tuple(args.sizes or bench.SIZES)
    cases = bench.cases(sizes)  # the overhead stage reports once per link count, its contenders together
    total = sum(c.stage != bench.OVERHEAD for c in cases) + len({c.size for c in cases if c.stage == bench.OVERHEAD})
    results = bench.run(sizes, args.rounds, progress=_progress(total))
    print("\n".join(report.report(results, bench.bytes_per_link(), sizes)))
    if args.plot:
        report.plot(results, args.plot, sizes)
        print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
