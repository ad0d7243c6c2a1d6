"""Every private OpenTelemetry assumption fastlinks makes, by name, and what happens without it.

CI runs this module on the lowest supported SDK, one in the middle and the newest."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import TraceState

from fastlinks import LinkPolicy, LinkProcessor, LinkSet, PerRow
from fastlinks import _otel_compat as compat
from fastlinks.linkset import LinkSetLink
from fastlinks.policy import CompactionStats

SDK = tuple(int(part) for part in compat.SDK_VERSION.split(".")[:2])

# Each assumption, and the SDK versions it is known to hold on.
ASSUMED = {
    "SpanContext is a 6-tuple": True,
    "Link stores _context and _attributes": True,
    "BoundedAttributes keeps a plain _dict": True,
    "Span._links is a BoundedList": True,
    "SpanProcessor._on_ending is called": SDK >= (1, 40),
    "CompositePropagator keeps its parts in _propagators": True,
    "TraceState keeps its members in _dict": True,
}


@pytest.mark.parametrize("name", list(ASSUMED))
def test_each_assumption_is_checked_and_holds_where_expected(name):
    assert compat.ASSUMPTIONS[name] is ASSUMED[name], f"opentelemetry-sdk {compat.SDK_VERSION}"


CHECKED_WHEN_USED = {  # checked when the module that needs them is first imported
    "the stock OTLP encoder pieces exist",
    "the stock OTLP/HTTP export calls encode_spans",
    "the SDK's configurator is _OTelSDKConfigurator._configure",
}


def test_no_assumption_goes_unnamed():
    assert set(compat.ASSUMPTIONS) - CHECKED_WHEN_USED == set(ASSUMED)


def test_the_otlp_pieces_are_checked_when_the_exporter_is_installed():
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    import fastlinks.otlp.http  # noqa: F401

    assert compat.ASSUMPTIONS["the stock OTLP encoder pieces exist"]
    assert compat.ASSUMPTIONS["the stock OTLP/HTTP export calls encode_spans"]


def test_the_sdk_configurator_is_checked_when_fastlinks_configures():
    import fastlinks.configurator  # noqa: F401

    assert compat.ASSUMPTIONS["the SDK's configurator is _OTelSDKConfigurator._configure"]


def test_a_broken_assumption_warns_naming_the_sdk_version(caplog):
    with caplog.at_level(logging.WARNING, "fastlinks"):
        assert compat._check("a probe that fails", lambda: 1 / 0) is False
    assert compat.SDK_VERSION in caplog.text and "a probe that fails" in caplog.text
    del compat.ASSUMPTIONS["a probe that fails"]


CONTEXTS = [
    SpanContext(0xABC, 1, True, TraceFlags(1), TraceState([("k", "v")])),
    SpanContext(0xDEF, 2, False, TraceFlags(0)),
    SpanContext(5, 0, False),
]


def test_without_the_fast_layout_results_are_the_same(impl):
    """Public constructors and properties instead of tuple reads: same columns, same Links."""
    fast = impl.ids_from_contexts(CONTEXTS, True)
    slow = impl.ids_from_contexts(CONTEXTS, False)
    assert all((a == b).all() for a, b in zip(fast[:4], slow[:4], strict=True)) and fast[4] == slow[4]
    ls = LinkSet.from_span_contexts(CONTEXTS, {"a": PerRow([1, 2, 3])})
    args = (ls.trace_ids, ls.span_ids, ls.trace_flags, ls.is_remote, None, ["k=v", None, None])
    rest = ([{"a": 1}, {"a": 2}, {"a": 3}], None, None, Link, None)
    for a, b in zip(impl.make_links(*args, *rest, True), impl.make_links(*args, *rest, False), strict=True):
        assert (type(a), a.context, a.attributes) == (type(b), b.context, b.attributes)


class _Inherited(LinkSetLink):  # its slots are its base's: the kernel's in-place stores are not for it
    __slots__ = ()


class _Shadowed(LinkSetLink):  # one slot of its own over the base's
    __slots__ = ("_context",)


class _Constructed(LinkSetLink):  # all four slots its own, made by its own __new__: that must run
    __slots__ = ("_attributes", "_context", "_dropped_attributes", "_stats")
    made = 0

    def __new__(cls, *args, **kwargs):
        _Constructed.made += 1
        return super().__new__(cls)


@pytest.mark.parametrize("link_type", [LinkSetLink, _Inherited, _Shadowed, _Constructed, Link])
def test_every_link_type_gets_the_same_links_on_the_fast_path(impl, link_type):
    """The fast path stores a new link's fields in place only for a class whose own __slots__
    hold all four; any other Link subclass takes attribute assignment, with the same result."""
    _Constructed.made = 0
    ls = LinkSet.from_span_contexts(CONTEXTS)
    args = (ls.trace_ids, ls.span_ids, ls.trace_flags, ls.is_remote, None, None, [{"a": 1}, None, {"b": 2}])
    stats = None if link_type is Link else CompactionStats(input=3, invalid=0, duplicates=0, over_limit=0, kept=3)
    dropped = None if link_type is Link else [0, 2, 0]
    fast, slow = (impl.make_links(*args, None, dropped, link_type, stats, f) for f in (True, False))
    for a, b in zip(fast, slow, strict=True):
        assert (type(a), a.context, a.attributes, a.dropped_attributes) == (
            link_type,
            b.context,
            b.attributes,
            b.dropped_attributes,
        )
        assert getattr(a, "_stats", None) is getattr(b, "_stats", None) is (None if link_type is Link else stats)
    assert [(link.context.trace_id, link.context.span_id) for link in fast] == [(0xABC, 1), (0xDEF, 2), (5, 0)]
    if link_type is _Constructed:
        assert _Constructed.made == 6  # fast and slow: each link through its class's __new__


def test_links_made_in_place_are_ordinary_instances(impl):
    """The compiled kernel allocates a LinkSetLink and fills its slots without object.__new__'s
    instance-values block: the instance __dict__ is made on first use and everything Python does
    with an object works (attributes set and deleted, vars, copy, deepcopy, pickle, weakref, gc)."""
    import copy
    import gc
    import pickle
    import weakref

    links = list(LinkSet.from_span_contexts(CONTEXTS, {"a": PerRow([1, 2, 3])}).compact())
    link = links[0]
    assert vars(link) == {} and not hasattr(link, "note")
    link.note = "kept"
    assert vars(link) == {"note": "kept"} and link.note == "kept"
    del link.note
    assert vars(link) == {}
    for other in links[1:]:
        other.__dict__["x"] = 1
        assert other.x == 1
    for made in (copy.copy(link), copy.deepcopy(link), pickle.loads(pickle.dumps(link))):
        assert (type(made), made.context, dict(made.attributes)) == (type(link), link.context, dict(link.attributes))
    ref = weakref.ref(link)
    assert ref() is link
    del link, links
    gc.collect()
    assert ref() is None


def test_without_a_span_link_list_the_processor_leaves_spans_alone(impl, monkeypatch):
    monkeypatch.setattr(compat, "SPAN_LINKS", False)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(LinkProcessor(LinkPolicy(max_links=1)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("s", links=[Link(CONTEXTS[0]), Link(CONTEXTS[1])]).end()
    (span,) = exporter.get_finished_spans()
    assert len(span.links) == 2 and span.dropped_links == 0


def test_on_ending_exists_exactly_where_it_is_called():
    assert compat.ON_ENDING == hasattr(SpanProcessor, "_on_ending")
