"""Every propagation format against its official propagator: generated and mutated headers, alone
and in composites, must give what the official `extract` gives per message (trace ID, span ID,
sampled flag, trace state), on both implementations. Where a propagator departs from its format's
specification, fastlinks follows the propagator; the cases are pinned below."""

from __future__ import annotations

import itertools
import logging
import os
import random
import subprocess
import sys

import pytest
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.propagators.b3 import B3MultiFormat, B3SingleFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.jaeger import JaegerPropagator
from opentelemetry.propagators.ot_trace import OTTracePropagator
from opentelemetry.propagators.textmap import TextMapPropagator, default_getter, default_setter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fastlinks import LinkSet
from fastlinks.formats import formats_of

OFFICIAL = {
    "tracecontext": TraceContextTextMapPropagator(),
    "b3": B3SingleFormat(),
    "b3multi": B3MultiFormat(),
    "jaeger": JaegerPropagator(),
    "xray": AwsXRayPropagator(),
    "ottrace": OTTracePropagator(),
}


def _hex(rng: random.Random, digits: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(digits))


def _ids(rng: random.Random) -> tuple[str, str, bool]:
    return _hex(rng, 32), _hex(rng, 16), rng.random() < 0.5


def _valid(fmt: str, rng: random.Random) -> dict[str, str]:
    """A header set as that format's official `inject` writes it (plus the shapes its extract reads)."""
    tid, sid, sampled = _ids(rng)
    if fmt == "tracecontext":
        carrier = {"traceparent": f"00-{tid}-{sid}-{'01' if sampled else '00'}"}
        if rng.random() < 0.5:
            carrier["tracestate"] = rng.choice(["vendor=abc", "ot=th:8;rv:1234,dd=s:1", "a=1,b=2,c=3"])
        return carrier
    if fmt == "b3":
        fields = [tid if rng.random() < 0.7 else tid[16:], sid, rng.choice(["1", "0", "d", "true"]), _hex(rng, 16)]
        return {"b3": "-".join(fields[: rng.choice([2, 3, 4])])}
    if fmt == "b3multi":
        carrier = {"x-b3-traceid": tid if rng.random() < 0.7 else tid[16:], "x-b3-spanid": sid}
        carrier["x-b3-sampled"] = rng.choice(["1", "0", "true", "True", "d", ""])
        if rng.random() < 0.2:
            carrier["x-b3-flags"] = rng.choice(["1", "0"])
        return carrier
    if fmt == "jaeger":  # hex without leading zeros, 64- or 128-bit trace IDs
        trace_id = tid.lstrip("0") if rng.random() < 0.7 else tid[16:].lstrip("0")
        return {"uber-trace-id": f"{trace_id or '1'}:{sid.lstrip('0') or '1'}:0:{rng.choice(['0', '1', '3', '2'])}"}
    if fmt == "xray":
        value = f"Root=1-{tid[:8]}-{tid[8:]};Parent={sid};Sampled={int(sampled)}"
        if rng.random() < 0.3:
            value += ";Lineage=a87bd80c:1|68fd508a:5"
        return {rng.choice(["X-Amzn-Trace-Id", "AWSTraceHeader"]): value}
    assert fmt == "ottrace"
    return {
        "ot-tracer-traceid": tid if rng.random() < 0.5 else tid[16:],
        "ot-tracer-spanid": sid,
        "ot-tracer-sampled": rng.choice(["true", "false"]),
    }


_INSERTS = ["-", ":", ";", "=", " ", "\t", "0x", "_", "+", "-0", "G", "A", "F", "0" * 16, "\u0661", "é", "\x00", ""]


def _mutate(value: str, rng: random.Random) -> str:
    """One edit of the kind that breaks parsers: a character changed, cut, doubled, an insertion, a case change."""
    if not value:
        return rng.choice(_INSERTS)
    i = rng.randrange(len(value))
    kind = rng.randrange(7)
    if kind == 0:
        return value[:i] + rng.choice(_INSERTS) + value[i:]
    if kind == 1:
        return value[:i] + value[i + 1 :]
    if kind == 2:
        return value[:i] + rng.choice("0123456789abcdefABCDEFxz") + value[i + 1 :]
    if kind == 3:
        return value.upper() if rng.random() < 0.5 else value[:i] + value[i:].swapcase()
    if kind == 4:
        return value[:i]
    if kind == 5:
        return value + rng.choice(_INSERTS)
    return value.replace(rng.choice("0123456789abcdef"), "0")


def _carriers(formats: list[str], n: int, seed: int) -> list[dict[str, str]]:
    """Carriers with headers of one or more of `formats`, a share of them mutated."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        carrier: dict[str, str] = {}
        for fmt in formats:
            if len(formats) == 1 or rng.random() < 0.7:
                carrier.update(_valid(fmt, rng))
        if carrier and rng.random() < 0.5:
            key = rng.choice(sorted(carrier))
            carrier[key] = _mutate(carrier[key], rng)
        out.append(carrier)
    return out


def _official(propagator, carrier: dict[str, str]):
    if "AWSTraceHeader" in carrier:  # the SQS system attribute: what the xray propagator reads from its header
        carrier = {**carrier, "X-Amzn-Trace-Id": carrier["AWSTraceHeader"]}
        del carrier["AWSTraceHeader"]
    context = trace.get_current_span(propagator.extract(carrier)).get_span_context()
    if not context.is_valid:
        return None
    return context.trace_id, context.span_id, context.trace_flags.sampled, context.trace_state.to_header()


def _subclassed(fmt: str) -> TextMapPropagator:
    """A subclass of `fmt`'s official propagator: fastlinks calls it per message."""
    official = type(OFFICIAL[fmt])
    return type(f"Own{official.__name__}", (official,), {})()


def _ours(links: LinkSet, i: int):
    if not links.valid[i]:
        return None
    context = links[i].context
    return context.trace_id, context.span_id, context.trace_flags.sampled, context.trace_state.to_header()


def _compare(formats: list[str], carriers: list[dict[str, str]]) -> None:
    official = CompositePropagator([OFFICIAL[name] for name in formats])
    links = LinkSet.from_carriers(carriers, formats=formats)
    for i, carrier in enumerate(carriers):
        assert _ours(links, i) == _official(official, carrier), (formats, carrier)


@pytest.mark.parametrize("fmt", list(OFFICIAL))
def test_each_format_gives_what_its_official_propagator_extracts(impl, fmt):
    carriers = _carriers([fmt], 3000, seed=hash(fmt) % 1000)
    _compare([fmt], carriers)
    assert 0.3 < LinkSet.from_carriers(carriers, formats=[fmt]).valid.mean() < 0.95  # both kinds were tried


COMPOSITES = [list(c) for c in itertools.permutations(["tracecontext", "b3multi", "jaeger", "xray", "ottrace"], 2)]
COMPOSITES += [["tracecontext", "b3", "jaeger", "xray", "ottrace"], ["ottrace", "xray", "jaeger", "b3multi"]]


@pytest.mark.parametrize("formats", COMPOSITES, ids=",".join)
def test_composites_resolve_as_the_composite_propagator(impl, formats):
    _compare(formats, _carriers(formats, 400, seed=len(formats) * 7 + hash(tuple(formats)) % 97))


@pytest.mark.parametrize("fmt", list(OFFICIAL))
def test_header_names_match_in_any_case(impl, fmt):
    """The official extract reads the canonical-case carrier; fastlinks reads any case the same."""
    carriers = _carriers([fmt], 300, seed=5)
    links = LinkSet.from_carriers(carriers, formats=[fmt])
    for change in (str.upper, str.lower, str.title):
        recased = LinkSet.from_carriers([{change(k): v for k, v in c.items()} for c in carriers], formats=[fmt])
        assert [_ours(recased, i) for i in range(len(carriers))] == [_ours(links, i) for i in range(len(carriers))]


def _near_misses(name: str) -> list[str]:
    """`name` with one character changed to one that ORing 0x20 folds alike (a case change, or "\\r"
    for "-", "\\x13" for "3"), or to its neighbour: names a case-insensitive match must tell apart."""
    out = []
    for i, ch in enumerate(name):
        for other in {chr(ord(ch) ^ 0x20), chr(ord(ch) & ~0x20), chr(ord(ch) + 1)}:
            out.append(name[:i] + other + name[i + 1 :])
    return out


@pytest.mark.parametrize("fmt", list(OFFICIAL))
def test_a_name_one_character_away_is_read_only_if_it_is_a_case_variant(impl, fmt):
    """Each header of a valid carrier renamed one character away: read as the header when the new
    name is an ASCII case variant of it, else as if the header were absent; in a dict and in a
    list of pairs with bytes names."""
    rng = random.Random(17)
    carriers = [c for c in (_valid(fmt, rng) for _ in range(40)) if "AWSTraceHeader" not in c]
    for carrier in carriers[:8]:
        for name in carrier:
            without = {k: v for k, v in carrier.items() if k != name}
            for renamed in _near_misses(name):
                changed = {(renamed if k == name else k): v for k, v in carrier.items()}
                same = renamed.encode().lower() == name.encode().lower()
                expected = LinkSet.from_carriers([carrier if same else without], formats=[fmt])
                pairs = [(k.encode(), v) for k, v in changed.items()]
                got = LinkSet.from_carriers([changed, pairs], formats=[fmt])
                assert _ours(got, 0) == _ours(got, 1) == _ours(expected, 0), (name, renamed)


@pytest.mark.parametrize("formats", [["tracecontext"], ["b3"], ["b3multi"], ["ottrace"], ["tracecontext", "b3multi"]])
def test_pairs_read_as_the_mapping_of_the_same_headers(impl, formats):
    """A list or tuple of (name, value) pairs, as Kafka clients deliver headers (values as bytes
    too), reads as the dict of the same headers: generated and mutated, in each format the
    compiled parser reads in one pass."""
    carriers = _carriers(formats, 1500, seed=31)
    ours = LinkSet.from_carriers(carriers, formats=formats)
    ascii_rows = [all(v.isascii() for v in c.values()) for c in carriers]
    for shape in (
        [list(c.items()) for c in carriers],
        [tuple(c.items()) for c in carriers],
        [[(k, v.encode()) for k, v in c.items()] for c in carriers],
    ):
        theirs = LinkSet.from_carriers(shape, formats=formats)
        assert [_ours(theirs, i) for i, plain in enumerate(ascii_rows) if plain] == [
            _ours(ours, i) for i, plain in enumerate(ascii_rows) if plain
        ]


def _multi_valued(carriers: list[dict[str, str]], rng: random.Random) -> list[dict[str, object]]:
    """The carriers with values as OpenTelemetry's default getter also takes them: a list or tuple
    of one value, of none, or of the value with another value before or after it."""
    out: list[dict[str, object]] = []
    for carrier in carriers:
        changed: dict[str, object] = {}
        for key, value in carrier.items():
            other = _mutate(value, rng)
            changed[key] = rng.choice(
                [value, [value], (value,), [], [value, other], [other, value], (value, value), [value, "", other]]
            )
        out.append(changed)
    return out


@pytest.mark.parametrize("formats", [[fmt] for fmt in OFFICIAL] + COMPOSITES[:6], ids=",".join)
def test_multi_valued_headers_read_as_the_official_propagators_read_them(impl, formats):
    """A mapping's value may be a list or tuple (`Mapping[str, str | list[str]]`, OpenTelemetry's
    default getter): each format reads what its official propagator reads from it, the first
    value (X-Ray: only a single one), every tracestate value."""
    rng = random.Random(len(formats) * 13 + 1)
    carriers = _multi_valued(_carriers(formats, 1200, seed=len(formats) * 3 + 2), rng)
    _compare(formats, carriers)
    ours = LinkSet.from_carriers(carriers, formats=formats)  # the same headers as pairs read alike
    pairs = LinkSet.from_carriers([list(c.items()) for c in carriers], formats=formats)
    nested = LinkSet.from_carriers([{"MessageAttributes": c} for c in carriers], formats=formats)
    for i in range(len(carriers)):
        assert _ours(pairs, i) == _ours(nested, i) == _ours(ours, i), carriers[i]


def test_multi_valued_headers_hold_str_or_bytes(impl):
    """Values in a header's list are read as a value of their own would be: bytes as their text,
    anything else (None, a number, a list in the list) voids the header."""
    tp = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    carriers = [
        {"traceparent": [tp.encode()]},
        {"traceparent": [tp], "tracestate": [b"a=1", "b=2"]},
        {"traceparent": [None]},
        {"traceparent": [[tp]]},
        {"traceparent": [5, tp]},
        {"traceparent": [tp], "tracestate": ["a=1", None]},
        [("traceparent", [tp, "x"]), ("traceparent", ["y"])],
    ]
    links = LinkSet.from_carriers(carriers)
    assert links.valid.tolist() == [True, True, False, False, False, False, False]
    assert _ours(links, 1)[3] == "a=1,b=2"
    first = LinkSet.from_carriers(carriers[-1:], repeated="first")
    assert first.valid.tolist() == [True]  # the pairs' first traceparent, that header's first value


def test_bytes_values_read_as_their_text(impl):
    carriers = _carriers(["b3multi", "jaeger", "xray", "ottrace"], 300, seed=11)
    as_bytes = [[(k.encode(), v.encode("utf-8")) for k, v in c.items()] for c in carriers]
    formats = ["b3multi", "jaeger", "xray", "ottrace"]
    ascii_rows = [all(v.isascii() for v in c.values()) for c in carriers]
    ours = LinkSet.from_carriers(carriers, formats=formats)
    theirs = LinkSet.from_carriers(as_bytes, formats=formats)
    for i, plain in enumerate(ascii_rows):
        if plain:
            assert _ours(theirs, i) == _ours(ours, i)


# ---------------------------------------------------------------- pinned departures and choices


def test_a_later_invalid_context_replaces_an_earlier_valid_one(impl):
    """The b3 propagator puts an all-zero ID in the context rather than leaving it alone, so in
    `tracecontext,b3multi` it voids a valid traceparent; jaeger does the same for IDs out of range."""
    valid = {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01"}
    for extra, formats in [
        ({"x-b3-traceid": "0" * 32, "x-b3-spanid": "3" * 16}, ["tracecontext", "b3multi"]),
        ({"uber-trace-id": f"{'f' * 33}:1:0:1"}, ["tracecontext", "jaeger"]),
        ({"uber-trace-id": "-5:1:0:1"}, ["tracecontext", "jaeger"]),
    ]:
        carrier = {**valid, **extra}
        assert _official(CompositePropagator([OFFICIAL[f] for f in formats]), carrier) is None
        assert not LinkSet.from_carriers([carrier], formats=formats).valid[0]
        assert LinkSet.from_carriers([carrier], formats=formats[::-1]).valid[0]  # the other order keeps W3C's


def test_jaeger_and_xray_read_ids_as_pythons_int_does(impl):
    """Both propagators read IDs with int(text, 16): signs, "0x", "_" and spaces pass there, so here."""
    for header in ["0xabc:d_e_f:0:1", " abc :+def:0:0x1", "0000000000000000000000000000000000abc:def:0:1"]:
        carrier = {"uber-trace-id": header}
        assert _ours(LinkSet.from_carriers([carrier], formats=["jaeger"]), 0) == _official(OFFICIAL["jaeger"], carrier)
        assert LinkSet.from_carriers([carrier], formats=["jaeger"]).valid[0]
    xray = {"X-Amzn-Trace-Id": f"Root=1-0x{'1' * 6}-{'2' * 24} ; Parent = {'3' * 16}"}
    assert _ours(LinkSet.from_carriers([xray], formats=["xray"]), 0) == _official(OFFICIAL["xray"], xray)
    trailing = {"X-Amzn-Trace-Id": f"Root=1-{'1' * 8}-{'2' * 24};Parent={'3' * 16};"}  # the empty last pair fails
    assert _official(OFFICIAL["xray"], trailing) is None
    assert not LinkSet.from_carriers([trailing], formats=["xray"]).valid[0]


def test_non_ascii_digits_are_not_hex(impl):
    """The b3 propagator's pattern is `[\\da-fA-F]`, and Python's `\\d` takes any Unicode digit; the
    B3 specification says hex, and fastlinks reads hex only (the one departure from the propagator)."""
    carrier = {"x-b3-traceid": "\u0661" * 16, "x-b3-spanid": "1" * 16}
    assert _official(OFFICIAL["b3multi"], carrier) is not None
    assert not LinkSet.from_carriers([carrier], formats=["b3multi"]).valid[0]


def test_the_b3_single_header_wins_over_the_multi_headers_even_when_malformed(impl):
    carrier = {"b3": "not-a-header", "x-b3-traceid": "1" * 32, "x-b3-spanid": "2" * 16}
    assert _official(OFFICIAL["b3multi"], carrier) is None
    assert not LinkSet.from_carriers([carrier], formats=["b3multi"]).valid[0]
    carrier["b3"] = ""  # an empty single header is no header
    assert _ours(LinkSet.from_carriers([carrier], formats=["b3"]), 0) == _official(OFFICIAL["b3"], carrier)


def test_unknown_formats_are_named():
    with pytest.raises(ValueError, match="formats: unknown format 'zipkin'; known: tracecontext, b3"):
        LinkSet.from_carriers([{}], formats=["tracecontext", "zipkin"])
    assert LinkSet.from_carriers([{}], formats="tracecontext, baggage").valid.tolist() == [False]
    for formats in (("tracecontext", "zipkin"), ("tracecontext", ["b3"]), ("tracecontext", 7)):  # tuples: checked
        with pytest.raises(ValueError, match="formats: unknown format"):  # once when valid, every time when not
            LinkSet.from_carriers([{}], formats=formats)
    assert LinkSet.from_carriers([{}], formats=("baggage", "tracecontext")).valid.tolist() == [False]


# ---------------------------------------------------------------- the format the application uses


def test_by_default_fastlinks_reads_what_the_global_propagator_reads(impl, global_textmap):
    carriers = _carriers(["b3multi", "tracecontext"], 500, seed=3)
    for parts in (["tracecontext"], ["b3multi"], ["b3multi", "tracecontext"], ["tracecontext", "b3multi"]):
        composite = CompositePropagator([OFFICIAL[name] for name in parts] + [W3CBaggagePropagator()])
        global_textmap(composite)
        assert formats_of(composite) == tuple(parts)
        links = LinkSet.from_carriers(carriers)
        assert [_ours(links, i) for i in range(len(carriers))] == [_official(composite, c) for c in carriers]


def test_otel_propagators_chooses_the_formats_in_a_fresh_process(tmp_path):
    """What a user sees: with OTEL_PROPAGATORS=b3multi, B3 producers' links are all found."""
    script = (
        "from fastlinks import LinkSet\n"
        "carriers = [{'x-b3-traceid': f'{i + 1:032x}', 'x-b3-spanid': f'{i + 1:016x}', 'x-b3-sampled': '1'}"
        " for i in range(300)]\n"
        "print(LinkSet.from_carriers(carriers).compact().stats)\n"
    )
    env = {**os.environ, "OTEL_PROPAGATORS": "tracecontext,b3multi"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert "invalid=0, duplicates=0, over_limit=172, kept=128" in out.stdout


class _Custom(TextMapPropagator):
    """An application's own propagator: a context in `x-ctx: <trace hex>/<span hex>`."""

    def extract(self, carrier, context=None, getter=default_getter):
        value = getter.get(carrier, "x-ctx")
        if not value:
            return context or Context()
        if value[0] == "boom":
            raise RuntimeError("a bug in the application's propagator")
        trace_id, span_id = (int(part, 16) for part in value[0].split("/"))
        span = trace.NonRecordingSpan(trace.SpanContext(trace_id, span_id, True, trace.TraceFlags(1)))
        return trace.set_span_in_context(span, context)

    def inject(self, carrier, context=None, setter=default_setter):
        raise NotImplementedError

    @property
    def fields(self):
        return {"x-ctx"}


def test_a_propagator_fastlinks_does_not_know_is_called_per_message(impl, global_textmap, caplog):
    global_textmap(CompositePropagator([TraceContextTextMapPropagator(), _Custom()]))
    carriers = [
        {"X-Ctx": "abc/def"},
        [(b"x-ctx", b"1/2"), ("traceparent", f"00-{'1' * 32}-{'2' * 16}-01")],  # the later part wins
        {"traceparent": f"00-{'1' * 32}-{'2' * 16}-01", "tracestate": "a=1"},
        {"x-ctx": "boom"},  # a propagator that raises costs its message, never the batch
        None,
    ]
    with caplog.at_level(logging.INFO, logger="fastlinks"):
        links = LinkSet.from_carriers(carriers)
        LinkSet.from_carriers(carriers)
    assert links.valid.tolist() == [True, True, True, False, False]
    assert (links[0].context.trace_id, links[1].context.span_id) == (0xABC, 2)
    assert links[2].context.trace_state.to_header() == "a=1"
    said = [r.getMessage() for r in caplog.records]
    assert sum("does not parse in bulk" in m for m in said) == 1, said
    assert sum("a bug in the application's propagator" in m for m in said) == 1, said
    assert formats_of(propagate.get_global_textmap()) is None


@pytest.mark.parametrize("formats", [["tracecontext"], ["xray"], ["b3multi", "jaeger"], ["ottrace", "tracecontext"]])
def test_a_propagator_called_per_message_gets_every_value_of_a_multi_valued_header(impl, global_textmap, formats):
    """The per-message path hands a list or tuple value on as the default getter does, so a
    propagator fastlinks does not know extracts from it what it extracts from the carrier itself."""
    propagator = CompositePropagator([_subclassed(name) for name in formats])
    global_textmap(propagator)
    rng = random.Random(len(formats) * 5 + 3)
    carriers = [c for c in _multi_valued(_carriers(formats, 600, seed=11), rng) if "AWSTraceHeader" not in c]
    links = LinkSet.from_carriers(carriers)
    assert formats_of(propagator) is None
    pairs = LinkSet.from_carriers([list(c.items()) for c in carriers])  # as pairs, or an SQS message's: alike
    nested = LinkSet.from_carriers([{"MessageAttributes": c} for c in carriers])
    for i, carrier in enumerate(carriers):
        assert _ours(links, i) == _ours(pairs, i) == _ours(nested, i) == _official(propagator, carrier), carrier
    assert 0.2 < links.valid.mean() < 0.95  # both kinds were tried


def test_subclasses_of_official_propagators_are_called_per_message():
    class Tweaked(B3MultiFormat):
        pass

    assert formats_of(Tweaked()) is None
    assert formats_of(CompositePropagator([B3MultiFormat(), CompositePropagator([JaegerPropagator()])])) == (
        "b3multi",
        "jaeger",
    )
