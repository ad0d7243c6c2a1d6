"""Command line: ``python -m fastlinks demo [--otlp URL]``.

The benchmarks live in the repository, not in the package: ``python benchmarks/run.py``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fastlinks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a batch consumer of 10,000 messages, the usual way and with fastlinks")
    demo.add_argument("--otlp", metavar="URL", help="send the spans to this OTLP/HTTP traces endpoint")
    args = parser.parse_args(argv)
    from .demo import run

    print("\n".join(run(args.otlp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
