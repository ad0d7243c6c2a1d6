"""`python -m fastlinks demo`: runs with no services, fits one screen, and can send to OTLP."""

from __future__ import annotations

import subprocess
import sys

from _receiver import Receiver


def demo(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "fastlinks", "demo", *args], capture_output=True, text=True, timeout=120, check=True
    )
    return result.stdout.splitlines()


def row(lines: list[str], label: str) -> list[str]:
    """The two values of the report row whose label is `label` (labels fill columns 2 to 40)."""
    (line,) = [line for line in lines if line[2:40].strip() == label]
    return line[40:].split()


def test_demo_in_memory():
    lines = demo()
    assert len(lines) <= 40
    assert row(lines, "candidate links (messages)") == ["10,000", "10,000"]
    assert row(lines, "kept") == ["128", "128"]
    assert row(lines, "kept links to sampled traces")[1] == "128"
    assert row(lines, "kept links that are distinct")[1] == "128"
    reported, actual = row(lines, "dropped_links_count reported"), row(lines, "links actually dropped")
    assert reported[1] == actual[1] == "9,872", "fastlinks reports every drop"
    assert reported[0] != actual[0], "the SDK alone does not"


def test_demo_sends_to_an_otlp_endpoint():
    with Receiver() as receiver:
        lines = demo("--otlp", receiver.endpoint)
    assert any(receiver.endpoint in line for line in lines)
    spans = [
        s for request in receiver.decoded() for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]
    names = [s.name for s in spans]
    assert "process batch (fastlinks)" in names and "process batch (propagator + SDK)" in names
    (fast,) = [s for s in spans if s.name == "process batch (fastlinks)" and len(s.links) == 128]
    assert fast.dropped_links_count == 9_872
    assert all(link.flags & 0x1 for link in fast.links), "sampled flags reach the endpoint"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "fastlinks", *args], capture_output=True, text=True, timeout=timeout, env=environment
    )


def test_version():
    import fastlinks

    done = cli("--version")
    assert done.returncode == 0 and done.stdout.strip() == f"fastlinks {fastlinks.__version__}"


def test_a_closed_port_fails_fast_and_says_so():
    import socket
    import time

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    done = cli("demo", "--otlp", f"http://127.0.0.1:{port}/v1/traces", "--timeout", "3")
    assert done.returncode == 1 and "could not send the two spans" in done.stdout
    assert time.monotonic() - start < 15


def test_bad_arguments_exit_2_with_a_message_before_any_work():
    for args, message in (
        (("demo", "--otlp", "not a url"), "expected an http:// or https:// URL"),
        (("demo", "--otlp", "http://127.0.0.1:99999/v1/traces"), "port"),
        (("demo", "--otlp"), "neither is set"),
        (("demo", "--timeout", "0"), "--timeout"),
        (("bench",), "invalid choice"),
    ):
        done = cli(*args, timeout=20)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)


def test_the_endpoint_defaults_to_the_standard_variable():
    with Receiver() as receiver:
        done = cli("demo", "--otlp", env={"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint.removesuffix("/v1/traces")})
    assert done.returncode == 0, done.stderr
    assert len(receiver.requests) == 1 and "both spans sent to" in done.stdout


def test_the_console_command_is_installed():
    from pathlib import Path

    command = Path(sys.executable).parent / "fastlinks"
    if not command.exists():
        import pytest

        pytest.skip("not installed with its console scripts (running from a source tree)")
    done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("fastlinks ")


def test_demo_spill_counts_the_producers_each_way_reaches():
    lines = demo("--spill")
    reach = {line.split("(")[0].strip(): line.split()[-1] for line in lines if line.startswith("    ") and "(" in line}
    assert int(reach["fastlinks, drop"]) == 128
    assert int(reach["propagator+SDK"]) <= 128
    assert int(reach["fastlinks, spill"].replace(",", "")) > 7000  # every distinct producer of 10,000 messages
