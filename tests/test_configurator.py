"""Zero-code: an app with no fastlinks code, run under `opentelemetry-instrument` with
OTEL_PYTHON_CONFIGURATOR=fastlinks and fastlinks' exporter, exports compacted links with honest
counts to a receiver this test starts on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

APP = """
from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, TraceFlags

tracer = trace.get_tracer("app")
# 300 links to 200 producers (100 re-deliveries), every other one sampled
links = [Link(SpanContext(0xA000 + i % 200, 0xB000 + i % 200, True, TraceFlags(i % 200 % 2))) for i in range(300)]
with tracer.start_as_current_span("process batch", links=links) as span:
    for i in range(50):  # as aiokafka's getmany instrumentation does, after start
        span.add_link(SpanContext(0xC000 + i, 0xD000 + i, True, TraceFlags(1)))
trace.get_tracer_provider().force_flush()
"""


def _instrument() -> str:
    path = Path(sys.executable).parent / "opentelemetry-instrument"
    if not path.exists():
        pytest.skip("opentelemetry-instrumentation is not installed (the test extra has it)")
    return str(path)


def _run(tmp_path, receiver, **env):
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otlp extra is not installed")
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(APP))
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FASTLINKS_"))},
        "OTEL_PYTHON_CONFIGURATOR": "fastlinks",
        "OTEL_TRACES_EXPORTER": "fastlinks_otlp_proto_http",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": receiver.endpoint,
        **env,
    }
    environment = {k: v for k, v in environment.items() if v is not None}  # None: leave it unset
    done = subprocess.run(
        [_instrument(), sys.executable, str(app)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    (request,) = receiver.decoded()
    (span,) = request.resource_spans[0].scope_spans[0].spans
    return span, done.stderr


def test_zero_code_setup_compacts_links_with_honest_counts(tmp_path):
    from _receiver import Receiver

    with Receiver() as receiver:
        span, _ = _run(tmp_path, receiver)
    assert len(span.links) == 128
    assert span.dropped_links_count == 350 - 128  # 100 re-deliveries and 122 over the cap
    assert len({(lk.trace_id, lk.span_id) for lk in span.links}) == 128
    sampled = [lk for lk in span.links if lk.flags & 0x01]
    assert len(sampled) == 128  # 100 sampled producers + 50 sampled links added later: sampled first
    assert all(lk.flags & 0x300 == 0x300 for lk in span.links)  # remote, as fastlinks' exporter says


def test_zero_code_setup_honours_the_users_link_limit_and_sampler(tmp_path):
    from _receiver import Receiver

    with Receiver() as receiver:
        span, _ = _run(
            tmp_path,
            receiver,
            OTEL_SPAN_LINK_COUNT_LIMIT="64",
            OTEL_TRACES_SAMPLER="linkaware_parentbased_traceidratio",
            OTEL_TRACES_SAMPLER_ARG="0",
        )
    assert len(span.links) == 64 and span.dropped_links_count == 350 - 64  # sampled for its links, at ratio 0


def test_not_named_it_configures_exactly_as_the_sdk_does(tmp_path):
    """`opentelemetry-instrument` takes the first configurator when none is named: then fastlinks
    must change nothing (the stock exporter and the SDK's last-128 links)."""
    from _receiver import Receiver

    with Receiver() as receiver:
        span, _ = _run(tmp_path, receiver, OTEL_PYTHON_CONFIGURATOR=None, OTEL_TRACES_EXPORTER="otlp_proto_http")
    assert len(span.links) == 128 and span.dropped_links_count == 350 - 128
    assert {lk.flags for lk in span.links} <= {0x100, 0x300}  # the stock encoder: no W3C flags
    last = [(0xA000 + i % 200, 0xB000 + i % 200) for i in range(222, 300)] + [
        (0xC000 + i, 0xD000 + i) for i in range(50)
    ]
    got = [(int.from_bytes(lk.trace_id, "big"), int.from_bytes(lk.span_id, "big")) for lk in span.links]
    assert got == last  # the SDK's own choice: the last 128 handed to it
