"""Coverage-guided differential fuzzing of the kernels, with atheris.

    pip install atheris
    python fuzz/fuzz_kernels.py -max_total_time=300 -rss_limit_mb=4096 fuzz/corpus

Each input becomes a batch of message-header carriers in every format (and whole SQS messages),
the formats to read them in and a policy. Both kernel modules parse
and compact it; they must agree byte for byte, the counts must add up, and a TypeError may only
name a carrier; both read the parsed trace states, and a mutated or arbitrary tracestate header,
into the same TraceStates. The same input also builds a list of odd links (contexts that are not
SpanContexts, numpy and out-of-range IDs, str trace states, Link subclasses, None): both link
encoders, both processor scans and the LinkAwareSampler must agree on them or raise the same
exception type, and the LinkProcessor, the sampler and a LinkBuffer fed with them must never
raise. Coverage guides the search through the pure twin (instrumented by atheris), while every
input also runs through the compiled kernels; a crash there stops the run with the input.
A crash it finds becomes a test in tests/test_reliability.py.
"""

from __future__ import annotations

import sys
from types import MappingProxyType

import atheris
import numpy as np
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import TraceState

with atheris.instrument_imports():
    from fastlinks import _compact_py, _materialize_py, _parse_py
    from fastlinks.otlp import _wire_py
    from fastlinks.policy import STRATEGIES

from fastlinks import (
    LinkAwareSampler,
    LinkBuffer,
    LinkPolicy,
    LinkProcessor,
    _compact,
    _materialize,
    _otel_compat,
    _parse,
)
from fastlinks.linkset import LinkSetLink
from fastlinks.otlp import _wire
from fastlinks.otlp._encoder import _encode_attribute
from fastlinks.policy import CompactionStats

NAMES = [
    "traceparent",
    "TraceParent",
    "tracestate",
    "TRACESTATE",
    "x",
    "b3",
    "X-B3-TraceId",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "X-Amzn-Trace-Id",
    "AWSTraceHeader",
    "ot-tracer-traceid",
    "ot-tracer-spanid",
    "ot-tracer-sampled",
    "MessageAttributes",
    "attributes",
]
VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SAMPLES = [  # a valid value of each format, mutated to reach deep into each parser
    VALID,
    "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1-c7ad6b7169203331",
    "0AF7651916CD43DD",
    "b7ad6b7169203331",
    "true",
    "d",
    "1",
    "abc:def:0:1",
    "0x_a:+b: 1 :-3",
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
]
FORMATS = list(_parse_py.FORMATS)
SCRATCH = bytearray()
STATES = ["a=1,b@c=x y", " k=v ,,\tz0@t=~!", "ot=th:8;rv:0123456789abcd,vendor=acme", "a=1,a=2"]


def _trace_state_header(fdp: atheris.FuzzedDataProvider) -> str:
    """A tracestate header: a sample with a few characters changed, or any text."""
    if fdp.ConsumeBool():
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 120))
    raw = list(fdp.PickValueInList(STATES))
    for _ in range(fdp.ConsumeIntInRange(0, 3)):
        raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = chr(fdp.ConsumeIntInRange(0, 300))
    return "".join(raw)


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> object:
    kind = fdp.ConsumeIntInRange(0, 6 if depth < 2 else 5)
    if kind == 6:  # several values, as OpenTelemetry's default getter takes them (a list in a list too)
        values = [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 3))]
        return tuple(values) if fdp.ConsumeBool() else values
    if kind == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
    if kind == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    if kind == 2:  # a valid value with a few bytes changed: reaches deep into the parser
        raw = bytearray(fdp.PickValueInList(SAMPLES).encode())
        for _ in range(fdp.ConsumeIntInRange(0, 3)):
            raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
        return bytes(raw).decode("latin-1") + fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 4))
    if kind == 3:
        return None
    if kind == 4:
        if fdp.ConsumeBool():
            return fdp.ConsumeInt(4)
        attribute = {"StringValue": fdp.PickValueInList(SAMPLES)}  # an SQS attribute, as a dict or another mapping
        return MappingProxyType(attribute) if fdp.ConsumeBool() else attribute
    return fdp.PickValueInList(SAMPLES)


def _key(fdp: atheris.FuzzedDataProvider) -> object:
    name = fdp.PickValueInList(NAMES)
    return name.encode() if fdp.ConsumeBool() else name


class _Message:
    """A client's message object: headers as a method (confluent-kafka) or an attribute (aiokafka)."""

    def __init__(self, headers: object, method: bool) -> None:
        self._headers = headers
        if not method:
            self.headers = headers

    def headers(self) -> object:
        return self._headers


class _Pairs(list):  # a list subclass: not the exact type the compiled pass reads first
    pass


def _carrier(fdp: atheris.FuzzedDataProvider) -> object:
    kind = fdp.ConsumeIntInRange(0, 6)
    pairs = [(_key(fdp), _value(fdp)) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 0:
        carrier = dict(pairs)
        if fdp.ConsumeBool():  # a whole SQS message: its attribute mappings are its headers
            attributes = dict((_key(fdp), _value(fdp)) for _ in range(fdp.ConsumeIntInRange(0, 3)))
            carrier["MessageAttributes"] = MappingProxyType(attributes) if fdp.ConsumeBool() else attributes
        return MappingProxyType(carrier) if fdp.ConsumeIntInRange(0, 3) == 0 else carrier
    if kind == 1:
        return pairs
    if kind == 2:
        return None
    if kind == 3:
        return tuple(pairs) if fdp.ConsumeBool() else _Pairs(pairs)
    if kind == 4:
        return _Message(pairs if fdp.ConsumeBool() else dict(pairs), fdp.ConsumeBool())
    if kind == 5:
        return _Message(None, fdp.ConsumeBool())
    return [pair[:1] for pair in pairs] or 7  # malformed: must raise TypeError naming the carrier


def _run(parse, compact, carriers, policy, formats, repeated):
    n = len(carriers)
    try:
        tids, sids, flags, remote, states = parse.parse_carriers(carriers, formats, repeated)
    except TypeError as error:
        assert str(error).startswith("carriers["), error
        return ("TypeError", str(error))
    scratch = (SCRATCH,) if compact is _compact else ()  # kept across inputs, as LinkSet keeps it per thread
    kept, invalid, duplicates, over = compact.compact(tids, sids, flags, None, *policy, *scratch)
    assert invalid + duplicates + over + len(kept) == n
    return (
        tids.tobytes(),
        sids.tobytes(),
        flags.tobytes(),
        remote.tobytes(),
        states,
        kept.tobytes(),
        invalid,
        duplicates,
        over,
    )


class _Duck:
    """Reads like a SpanContext, is not one."""

    def __init__(self, trace_id: object, span_id: object) -> None:
        self.trace_id, self.span_id, self.is_remote, self.is_valid = trace_id, span_id, True, True
        self.trace_flags, self.trace_state = TraceFlags(1), TraceState()


class _Renamed(Link):
    @property
    def context(self):  # type: ignore[override]
        return SpanContext(7, 7, False)


def _odd_id(fdp: atheris.FuzzedDataProvider, text: bool = False) -> object:
    """An ID as producers get them wrong; a str only for duck-typed contexts (SpanContext refuses it)."""
    kind = fdp.ConsumeIntInRange(0, 5 if text else 4)
    if kind == 0:
        return fdp.ConsumeIntInRange(0, 2**64 - 1)
    if kind == 1:
        return np.uint64(fdp.ConsumeIntInRange(0, 2**64 - 1))
    if kind == 2:
        return fdp.ConsumeInt(20)  # negative or beyond 128 bits
    if kind == 3:
        return fdp.ConsumeIntInRange(0, 3)  # small, often 0: invalid
    if kind == 4:
        return True
    return fdp.ConsumeUnicodeNoSurrogates(3)


def _odd_link(fdp: atheris.FuzzedDataProvider) -> object:
    kind = fdp.ConsumeIntInRange(0, 7)
    flags = fdp.PickValueInList([TraceFlags(1), TraceFlags(0), 1, 0, np.uint8(1), -3])
    state = fdp.PickValueInList([None, TraceState([("k", "v")]), "k=v"])
    if kind <= 2:
        return Link(SpanContext(_odd_id(fdp), _odd_id(fdp), fdp.ConsumeBool(), flags, state), {"a": 1})
    if kind == 3:
        return Link(_Duck(_odd_id(fdp, True), _odd_id(fdp, True)))
    if kind == 4:
        return Link(fdp.PickValueInList([None, "not-a-context", 5, (1, 2)]))
    if kind == 5:
        return _Renamed(SpanContext(1, 2, False))
    if kind == 6:
        link = LinkSetLink(SpanContext(fdp.ConsumeIntInRange(1, 9), 3, True, TraceFlags(1)))
        link._stats = CompactionStats(5, 1, 1, 1, 2)
        return link
    return None


def _outcome(call):
    try:
        return ("ok", call())
    except Exception as error:
        return ("raised", type(error).__name__)


_STOCK = TracerProvider(sampler=ParentBased(ALWAYS_ON)).get_tracer("fuzz")
_PROVIDER = TracerProvider(sampler=LinkAwareSampler(ParentBased(ALWAYS_ON)))
_PROVIDER.add_span_processor(LinkProcessor(LinkPolicy(max_links=4)))
_TRACER = _PROVIDER.get_tracer("fuzz")


def _check_links(links: list) -> None:
    """Both encoders and both scans agree; the SDK pipeline and the buffer never raise."""
    fast = _otel_compat.FAST_CONTEXTS, _otel_compat.FAST_ATTRIBUTES
    real = [link for link in links if link is not None]
    encoded = [_outcome(lambda k=k: k.encode_links(real, _encode_attribute, *fast)) for k in (_wire, _wire_py)]
    assert encoded[0] == encoded[1], encoded
    scans = [
        _outcome(lambda k=k: k.scan_links(real, 4, True, LinkSetLink, CompactionStats, fast[0]))
        for k in (_compact, _compact_py)
    ]
    assert scans[0] == scans[1], scans
    if _outcome(lambda: _STOCK.start_span("s", links=list(links)).end())[0] == "ok":  # what the SDK accepts
        span = _TRACER.start_span("s", links=links)  # LinkProcessor and LinkAwareSampler: never raise
        for link in real[:2]:
            context = getattr(link, "_context", None)
            if isinstance(context, SpanContext):
                span.add_link(context)
        span.end()
    buffer = LinkBuffer()
    for link in real:
        context = getattr(link, "_context", None)
        if isinstance(context, SpanContext):
            buffer.add_context(context)
    stats = buffer.compact().stats
    assert stats.input == stats.invalid + stats.duplicates + stats.over_limit + stats.kept


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    carriers = [_carrier(fdp) for _ in range(fdp.ConsumeIntInRange(0, 24))]
    policy = (
        fdp.ConsumeIntInRange(0, 12),
        fdp.ConsumeBool(),
        fdp.PickValueInList(list(STRATEGIES)),
        fdp.ConsumeBool(),
        fdp.ConsumeIntInRange(0, 2**64 - 1),
    )
    formats = [fdp.PickValueInList(FORMATS) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    repeated = fdp.PickValueInList(list(_parse_py.REPEATED))
    compiled = _run(_parse, _compact, carriers, policy, formats, repeated)
    assert compiled == _run(_parse_py, _compact_py, carriers, policy, formats, repeated)
    parsed_states = compiled[4] if compiled[0] != "TypeError" else None
    headers = [_trace_state_header(fdp), None, *(parsed_states or [])]
    rows = list(range(len(headers)))
    states = [list(s.items()) if s is not None else None for s in _materialize.trace_states(headers, rows, True)]
    assert states == [
        list(s.items()) if s is not None else None for s in _materialize_py.trace_states(headers, rows, True)
    ]
    _check_links([_odd_link(fdp) for _ in range(fdp.ConsumeIntInRange(0, 6))])


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
