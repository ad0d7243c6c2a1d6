"""Command line: ``fastlinks demo [--otlp [URL]] [--spill]`` (or ``python -m fastlinks``), ``fastlinks --version``.

The benchmarks live in the repository, not in the package: ``python benchmarks/run.py``."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from urllib.parse import urlsplit

from . import __version__

_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def _endpoint(parser: argparse.ArgumentParser, given: str) -> str:
    """The OTLP/HTTP traces URL: the one given, else the standard variables', checked now."""
    url = given
    if not url:
        traces, base = (os.environ.get(name, "").strip() for name in _ENDPOINTS)
        url = traces or (base.rstrip("/") + "/v1/traces" if base else "")
        if not url:
            parser.error(f"--otlp without a URL reads {' or '.join(_ENDPOINTS)}, and neither is set")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        parser.error(f"--otlp: expected an http:// or https:// URL, got {url!r}")
    try:
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number in range
    except ValueError:
        parser.error(f"--otlp: the port in {url!r} is not a number from 0 to 65535")
    if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        parser.error("--otlp needs the OTLP exporter: pip install 'fastlinks[otlp]'")
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fastlinks", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"fastlinks {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="a batch consumer of 10,000 messages, the usual way and with fastlinks")
    demo.add_argument(
        "--otlp",
        nargs="?",
        const="",
        metavar="URL",
        help="also send the two spans to this OTLP/HTTP traces endpoint "
        "(no URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces)",
    )
    demo.add_argument("--timeout", type=float, default=5.0, help="seconds the export may take (default 5)")
    demo.add_argument("--spill", action="store_true", help="also count the producers each way can reach")
    args = parser.parse_args(argv)
    endpoint = None if args.otlp is None else _endpoint(parser, args.otlp)
    if not 0 < args.timeout <= 600:
        parser.error(f"--timeout must be between 0 and 600 seconds, got {args.timeout:g}")
    from .demo import run

    lines, sent = run(endpoint, args.timeout, args.spill)
    print("\n".join(lines))
    return 0 if sent else 1


if __name__ == "__main__":
    sys.exit(main())
