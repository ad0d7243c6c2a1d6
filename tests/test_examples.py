"""Each example runs on the real SDK; its exported span graph is what the scenario says."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def spans_of(name: str):
    """Import the example as a module (worker processes import it by name) and run it."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    exporter = InMemorySpanExporter()
    importlib.import_module(name).run(exporter)
    spans = list(exporter.get_finished_spans())
    by_name: dict[str, list] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)
    return spans, by_name


def targets(span) -> list[int]:
    return [link.context.span_id for link in span.links]


@pytest.mark.parametrize(
    "name", ["batch_processing", "message_queue", "fan_out_fan_in", "retry", "saga", "large_batch"]
)
def test_runs_as_a_script(name):
    result = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "links [" in result.stdout


def test_batch_processing():
    _, by = spans_of("batch_processing")
    requests, batches = by["handle_request"], by["process_batch"]
    assert [len(b.links) for b in batches] == [4, 2, 1, 2], "by size (4), then by timeout"
    assert sorted(s for b in batches for s in targets(b)) == sorted(r.context.span_id for r in requests)
    assert len({r.context.trace_id for r in requests}) == len(requests), "each request has its own trace"
    for batch in batches:
        assert batch.context.trace_id not in {r.context.trace_id for r in requests}
        assert [link.attributes["item.index"] for link in batch.links] == list(range(len(batch.links)))
        assert all(link.attributes["link.type"] == "batch_item" for link in batch.links)
        assert batch.attributes["batch.success_count"] + batch.attributes["batch.failure_count"] == len(batch.links)
    assert sum(b.attributes["batch.failure_count"] for b in batches) == 1


def _queues() -> list[str]:
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        return ["memory"]
    return ["memory", "kafka"]


@pytest.mark.parametrize("queue", _queues())
def test_message_queue(queue):
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    example = importlib.import_module("message_queue")
    chosen = example.MemoryQueue() if queue == "memory" else example.make_queue()
    assert isinstance(chosen, example.KafkaQueue if queue == "kafka" else example.MemoryQueue)
    exporter = InMemorySpanExporter()
    example.run(exporter, chosen)
    by: dict[str, list] = {}
    for span in exporter.get_finished_spans():
        by.setdefault(span.name, []).append(span)
    sends = {s.context.span_id: s for s in by["send m0"] + by["send m1"] + by["send m2"]}
    for consumer in by["billing process"] + by["shipping process"]:
        (link,) = consumer.links
        assert link.context.span_id in sends and link.context.is_remote
        assert link.attributes["messaging.operation"] == "process"
        assert link.context.trace_state.to_header() == "vendor=blue", "tracestate travelled in the headers"
        assert consumer.context.trace_id != link.context.trace_id
    (batch,) = by["analytics process batch"]
    assert sorted(targets(batch)) == sorted(sends)
    assert batch.attributes["messaging.batch.message_count"] == 3 and batch.dropped_links == 0
    assert [link.attributes["messaging.message.id"] for link in batch.links] == ["m0", "m1", "m2"]


def test_fan_out_fan_in():
    _, by = spans_of("fan_out_fan_in")
    (main,) = by["main"]
    workers = [s for name, spans in by.items() if name.startswith("thread worker") for s in spans]
    (threads,) = by["aggregate threads"]
    assert sorted(targets(threads)) == sorted(w.context.span_id for w in workers)
    assert all(w.parent.span_id == main.context.span_id for w in workers)
    (processes,) = by["aggregate processes"]
    assert len(processes.links) == 4 and len(set(targets(processes))) == 4
    assert all(link.context.trace_id == main.context.trace_id for link in processes.links), "children of main"
    assert [link.attributes["link.index"] for link in processes.links] == [0, 1, 2, 3]


def test_retry():
    _, by = spans_of("retry")
    attempts = [by[f"attempt {i}"][0] for i in (1, 2, 3)]
    assert attempts[0].links == ()
    for i in (1, 2):
        (link,) = attempts[i].links
        assert link.context.span_id == attempts[i - 1].context.span_id
        assert link.attributes["link.type"] == "retry" and link.attributes["retry.attempt"] == i + 1
    assert [a.status.status_code for a in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]


def test_saga():
    _, by = spans_of("saga")
    for compensating, original in (("cancel_order", "create_order"), ("restore_inventory", "reserve_inventory")):
        (span,) = by[compensating]
        (link,) = span.links
        assert link.context.span_id == by[original][0].context.span_id
        assert link.attributes["link.type"] == "compensation"
        assert "card declined" in link.attributes["compensation.reason"]
    assert by["charge_payment"][0].status.status_code == StatusCode.ERROR


def test_large_batch_keeps_every_producer():
    _, by = spans_of("large_batch")
    (batch,) = by["process batch"]
    overflow = by["process batch links"]
    producers = {s.context.span_id for name, group in by.items() if name.startswith("send ") for s in group}
    linked = [link.context.span_id for span in [batch, *overflow] for link in span.links]
    assert sorted(linked) == sorted(producers) and len(producers) == 2_500, "each producer once"
    assert batch.dropped_links == 10_000 - 2_500, "only the re-deliveries are dropped"
    assert batch.attributes["fastlinks.links.over_limit"] == 2_500 - 128
    assert all(link.attributes["link.type"] == "batch_item" for span in overflow for link in span.links)
