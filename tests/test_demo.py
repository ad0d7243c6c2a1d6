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
