"""Carriers of any type, read through an OpenTelemetry `Getter` (`formats.parse`'s `getter`): the
bulk formats and the per-message path give what the official propagators' `extract` gives with
the same getter."""

from __future__ import annotations

import logging
import random

import pytest
from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter
from opentelemetry.sdk.trace import TracerProvider
from test_formats import COMPOSITES, OFFICIAL, _carriers, _multi_valued, _ours, _subclassed

from fastlinks import LinkBuffer, LinkSet, start_batch_span
from fastlinks._parse_py import _HEADERS
from fastlinks.formats import _asked


class _Envelope:
    """A message type fastlinks does not know: its context in `props`, names in their exact case."""

    def __init__(self, props: dict[str, object]) -> None:
        self.props = props


class _PropsGetter(Getter[_Envelope]):
    """Reads `_Envelope.props` as the default getter reads a mapping: case-sensitively, a value
    as a list of values."""

    def get(self, carrier: _Envelope, key: str) -> list[str] | None:
        if carrier.props.get("boom"):
            raise RuntimeError("a bug in the application's getter")
        value = carrier.props.get(key)
        if value is None:
            return None
        return list(value) if isinstance(value, (list, tuple)) else [value]  # type: ignore[list-item]

    def keys(self, carrier: _Envelope) -> list[str]:
        return list(carrier.props)


GETTER = _PropsGetter()


def _envelopes(formats: list[str], n: int, seed: int) -> list[_Envelope]:
    rng = random.Random(seed)
    carriers = _multi_valued(_carriers(formats, n, seed), rng)
    return [
        _Envelope(c)
        for c in carriers
        if "AWSTraceHeader" not in c  # not a name the xray propagator asks for
        and "\u0661" not in repr(c)  # a Unicode digit: the one pinned departure (test_formats)
    ]


def _extracted(propagator, envelope: _Envelope):
    context = trace.get_current_span(propagator.extract(envelope, getter=GETTER)).get_span_context()
    if not context.is_valid:
        return None
    return context.trace_id, context.span_id, context.trace_flags.sampled, context.trace_state.to_header()


@pytest.mark.parametrize("formats", [[fmt] for fmt in OFFICIAL] + COMPOSITES[::4], ids=",".join)
def test_a_getter_reads_any_carrier_as_the_official_propagators_read_it(impl, formats):
    envelopes = _envelopes(formats, 800, seed=len(formats) * 11 + 5)
    links = LinkSet.from_carriers(envelopes, formats=formats, getter=GETTER)
    official = CompositePropagator([OFFICIAL[name] for name in formats])
    for i, envelope in enumerate(envelopes):
        assert _ours(links, i) == _extracted(official, envelope), envelope.props
    assert 0.2 < links.valid.mean() < 0.95  # both kinds were tried


def test_a_propagator_called_per_message_gets_the_getter(impl, global_textmap):
    propagator = CompositePropagator([_subclassed("b3"), _subclassed("jaeger")])
    global_textmap(propagator)
    envelopes = _envelopes(["b3", "jaeger"], 400, seed=7)
    links = LinkSet.from_carriers(envelopes, getter=GETTER)
    for i, envelope in enumerate(envelopes):
        assert _ours(links, i) == _extracted(propagator, envelope), envelope.props
    assert links.valid.any()


@pytest.mark.parametrize("per_message", [False, True])
def test_a_getter_that_raises_costs_its_message_never_the_batch(impl, global_textmap, caplog, per_message):
    if per_message:
        global_textmap(CompositePropagator([_subclassed("tracecontext")]))
    traceparent = f"00-{'1' * 32}-{'2' * 16}-01"
    envelopes = [_Envelope({"traceparent": traceparent}), _Envelope({"boom": "1"}), _Envelope({})]
    with caplog.at_level(logging.WARNING, logger="fastlinks"):
        for _ in range(2):
            links = LinkSet.from_carriers(envelopes, formats=None if per_message else ["tracecontext"], getter=GETTER)
            assert links.valid.tolist() == [True, False, False]
    said = [r.getMessage() for r in caplog.records if "a bug in the application's getter" in r.getMessage()]
    assert len(said) == 1, said


def test_sqs_aws_trace_header_is_asked_for_as_in_a_mapping(impl):
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    links = LinkSet.from_carriers([_Envelope({"AWSTraceHeader": header})], formats=["xray"], getter=GETTER)
    assert links.valid.tolist() == LinkSet.from_carriers([{"AWSTraceHeader": header}], formats=["xray"]).valid.tolist()
    assert links.valid.tolist() == [True]


def test_every_name_a_format_reads_is_asked_for():
    for fmt in OFFICIAL:
        names = _asked([fmt])
        assert tuple(name.lower() for name in names) == _HEADERS["b3" if fmt == "b3multi" else fmt]
    assert _asked(["xray"]) == ("X-Amzn-Trace-Id", "AWSTraceHeader")  # as the xray propagator (and SQS) spell them
    assert _asked(["b3", "b3multi", "tracecontext"]) == (*_HEADERS["b3"], "traceparent", "tracestate")  # once each


def test_the_batch_span_and_the_buffer_take_a_getter(impl):
    envelopes = _envelopes(["tracecontext"], 50, seed=3)
    expected = LinkSet.from_carriers(envelopes, formats=["tracecontext"], getter=GETTER).compact()
    tracer = TracerProvider().get_tracer("test")
    span = start_batch_span(tracer, "batch", envelopes, formats=["tracecontext"], getter=GETTER)
    span.end()
    assert [link.context for link in span.links] == [link.context for link in expected]
    buffer = LinkBuffer(formats=["tracecontext"], getter=GETTER)
    for envelope in envelopes:
        buffer.add_carrier(envelope)
    assert [link.context for link in buffer.compact()] == [link.context for link in expected]


def test_a_getter_without_get_is_a_type_error_naming_it():
    for call in (
        lambda: LinkSet.from_carriers([{}], getter=object()),
        lambda: LinkBuffer(getter={"traceparent": "x"}),  # a carrier where the getter goes
    ):
        with pytest.raises(TypeError, match=r"getter must be an opentelemetry\.propagators\.textmap\.Getter, got"):
            call()
