"""Command line: ``python -m fastlinks demo [--otlp URL]`` and ``python -m fastlinks bench [--plot FILE.png]``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastlinks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a batch consumer of 10,000 messages, the usual way and with fastlinks")
    demo.add_argument("--otlp", metavar="URL", help="send the spans to this OTLP/HTTP traces endpoint")
    bench = commands.add_parser("bench", help="the benchmark cases: a table of medians and ratios")
    bench.add_argument("--sizes", type=int, nargs="+", metavar="N", help="batch sizes (default: 10 100 500 2000 10000)")
    bench.add_argument("--rounds", type=int, default=7, help="samples per case; the median is reported (default 7)")
    bench.add_argument("--plot", metavar="FILE.png", help="also draw a chart (needs matplotlib: the bench extra)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run

        print("\n".join(run(args.otlp)))
    else:
        from . import bench as cases

        sizes = tuple(args.sizes or cases.SIZES)
        results = cases.run(sizes, args.rounds, progress=lambda name: print(f"  {name}", file=sys.stderr))
        print("\n".join(cases.report(results, cases.bytes_per_link(), sizes)))
        if args.plot:
            cases.plot(results, args.plot, sizes)
            print(f"\nplot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
