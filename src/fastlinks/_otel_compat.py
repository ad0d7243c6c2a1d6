"""Every private OpenTelemetry access fastlinks makes, each checked once at import.

fastlinks reads and replaces a span's link list, builds `SpanContext`/`Link` objects without
their constructors and reuses pieces of the stock OTLP encoder. None of that is public API, so
each assumption is tested here against the installed SDK before it is used: a failed check
turns that fast path off, logs one warning naming the SDK version, and fastlinks uses public
API instead (slower, same results). `ASSUMPTIONS` says which hold; `tests/test_otel_compat.py`
names every one.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

logger = logging.getLogger("fastlinks")


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


SDK_VERSION = _version("opentelemetry-sdk")


# ---------------------------------------------------------------- logging once per cause

_LOG_INTERVAL = 300.0  # seconds between two reports of the same cause
_logged: dict[tuple[str, type], float] = {}
_log_lock = threading.Lock()


def _new_log_lock() -> None:
    """In a forked child: a fresh lock, as the logging module makes itself one. A fork while
    another thread held it would leave the child's copy locked, and its next log_once hung."""
    global _log_lock
    _log_lock = threading.Lock()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_new_log_lock)


def log_once(where: str, error: BaseException) -> None:
    """Log an error caught in `where` once per (place, exception type) every few minutes, so a
    bad input repeated on every span cannot flood the application's log."""
    key = (where, type(error))
    now = time.monotonic()
    with _log_lock:
        last = _logged.get(key)
        if last is not None and now - last < _LOG_INTERVAL:
            return
        _logged[key] = now
    logger.warning(
        "fastlinks: %s failed (%s: %s); fell back to what the stock SDK does. Reported once per %d s.",
        where,
        type(error).__name__,
        error,
        int(_LOG_INTERVAL),
    )


# ---------------------------------------------------------------- the checks

ASSUMPTIONS: dict[str, bool] = {}
"""Name of each private assumption -> whether it holds on the installed SDK."""


def _check(name: str, probe: Callable[[], bool], instead: str = "using public API instead (slower)") -> bool:
    try:
        holds = bool(probe())
    except Exception:  # a probe that cannot even run means the assumption is gone
        holds = False
    ASSUMPTIONS[name] = holds
    if not holds:
        logger.warning("fastlinks: opentelemetry-sdk %s breaks the assumption %r; %s", SDK_VERSION, name, instead)
    return holds


_T, _S = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331


def _context_is_tuple() -> bool:
    """SpanContext is a 6-tuple subclass (trace_id, span_id, is_remote, trace_flags, trace_state,
    is_valid) with no other storage, so the compiled kernels may read and allocate it as one."""
    state = TraceState([("k", "v")])
    ctx = SpanContext(_T, _S, True, TraceFlags(1), state)
    # no C-level fields beyond tuple's: only __dict__/__weakref__ pointers (before the object
    # when "managed", 3.12+), which PyType_GenericAlloc sets up
    return (
        issubclass(SpanContext, tuple)
        and SpanContext.__itemsize__ == tuple.__itemsize__
        and not any("__slots__" in vars(k) for k in SpanContext.__mro__[:-2])
        and 0 <= SpanContext.__basicsize__ - tuple.__basicsize__ <= 2 * struct.calcsize("P")
        and tuple(ctx) == (_T, _S, True, TraceFlags(1), state, True)
        and (ctx.trace_id, ctx.span_id, ctx.is_remote, ctx.trace_flags, ctx.trace_state, ctx.is_valid) == tuple(ctx)
    )


def _link_fields() -> bool:
    """A Link keeps its context in `_context` and its attributes in `_attributes`, read back by
    the public properties; a link allocated without `__init__` works once both are set."""
    ctx = SpanContext(_T, _S, True, TraceFlags(1))
    attributes = {"a": 1}
    link: Any = Link(ctx, attributes)
    bare: Any = Link.__new__(Link)
    bare._context = ctx
    bare._attributes = attributes
    return (
        link._context is ctx
        and link._attributes is attributes
        and bare.context is ctx
        and bare.attributes is attributes
        and bare.dropped_attributes == 0
    )


def _attributes_dict() -> bool:
    """BoundedAttributes keeps its items in the plain dict `_dict` and its count in `dropped`."""
    attributes: Any = BoundedAttributes(2, {"a": 1, "b": 2}, immutable=True)
    return type(attributes._dict) is dict and attributes._dict == dict(attributes) and attributes.dropped == 0


def _span_link_list() -> bool:
    """An SDK span keeps its links in `_links`, a BoundedList whose deque `_dq` holds them (its
    `maxlen` is the SDK's cap), whose `dropped` counts evictions, guarded by `_lock`."""
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider(shutdown_on_exit=False).get_tracer("fastlinks.compat")
    link = Link(SpanContext(_T, _S, True, TraceFlags(1)))
    span: Any = tracer.start_span("probe", links=[link])
    links: Any = span._links
    dq: Any = getattr(links, "_dq", None)
    held = (
        type(links) is BoundedList
        and list(dq) == [link]
        and dq.maxlen is not None
        and links.dropped == 0
        and hasattr(getattr(links, "_lock", None), "__enter__")
    )
    span.end()
    return held and list(span.links) == [link]


def _on_ending_called() -> bool:
    """`SpanProcessor._on_ending(span)` exists and `Span.end` calls it while the span is still a
    mutable `Span` (SDK 1.40 and later)."""
    if not hasattr(SpanProcessor, "_on_ending"):
        return False
    from opentelemetry.sdk.trace import TracerProvider

    seen: list[Any] = []

    class _Probe(SpanProcessor):
        def _on_ending(self, span: Any) -> None:
            seen.append(span)

    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(_Probe())
    span = provider.get_tracer("fastlinks.compat").start_span("probe")
    span.end()
    return len(seen) == 1 and isinstance(seen[0], Span)


FAST_CONTEXTS = _check("SpanContext is a 6-tuple", _context_is_tuple) and _check(
    "Link stores _context and _attributes", _link_fields
)
"""The compiled kernels may read SpanContext as a tuple and build Links field by field."""


def _trace_state_dict() -> bool:
    """A TraceState is its `_dict` of members in order: one made by `__new__` with that dict set
    behaves as the constructor's."""
    entries = [("a", "1"), ("b@c", "x y")]
    built = TraceState(entries)
    if vars(built) != {"_dict": dict(entries)}:
        return False
    bare = TraceState.__new__(TraceState)
    bare._dict = dict(entries)  # type: ignore[attr-defined]
    return (
        bare == built
        and bare.to_header() == built.to_header()
        and list(bare.items()) == entries
        and len(bare) == 2
        and bare["b@c"] == "x y"
        and repr(bare) == repr(built)
        and list(bare.add("d", "4").items()) == [("d", "4"), *entries]
    )


FAST_TRACE_STATES = _check("TraceState keeps its members in _dict", _trace_state_dict)
"""The materialize kernel may build a TraceState around a dict of members it has validated."""
FAST_ATTRIBUTES = _check("BoundedAttributes keeps a plain _dict", _attributes_dict)
"""The link encoder may read a BoundedAttributes' `_dict` directly."""
SPAN_LINKS = _check("Span._links is a BoundedList", _span_link_list)
"""`LinkProcessor` may read and replace a span's link list; without it, it leaves spans alone."""
ON_ENDING = SPAN_LINKS and _check(
    "SpanProcessor._on_ending is called",
    _on_ending_called,
    "links added after a span starts stay as the SDK keeps them (SDK 1.40 and later compact them)",
)
"""Links added after start can be compacted when the span ends."""


def _composite_parts() -> bool:
    part = TraceContextTextMapPropagator()
    return list(CompositePropagator([part])._propagators) == [part]


COMPOSITE_PARTS = _check(
    "CompositePropagator keeps its parts in _propagators",
    _composite_parts,
    "a composite global propagator is called once per message instead of parsed in bulk",
)
"""`fastlinks.formats` may look inside a composite propagator to parse each part in bulk."""


def composite_parts(propagator: Any) -> list[Any] | None:
    """The parts of a `CompositePropagator` (exactly that class), in order; None for anything else."""
    if COMPOSITE_PARTS and type(propagator) is CompositePropagator:
        return list(propagator._propagators)
    return None


# ---------------------------------------------------------------- span link lists


def span_links(span: Any) -> Any:
    """The SDK span's link list, or None for anything else (a non-SDK span, an unknown SDK)."""
    if not SPAN_LINKS:
        return None
    links = getattr(span, "_links", None)
    return links if type(links) is BoundedList else None


def link_items(links: Any) -> list[Any]:
    """The links in a span's list, copied under its lock."""
    with links._lock:
        return list(links._dq)


LINK_LIST = (BoundedList, "_links", "_dq")
"""The span's link list type and attribute, and the attribute of the deque inside it, checked
above: `LinkProcessor` hands them to the kernel that reads them on every span start, where a
Python call per access costs more than the check of 1-8 links itself."""


def count(links: Any) -> int:
    """Links held plus links the list has counted as dropped: grows with every `add_link`."""
    return len(links) + links.dropped


def add_dropped(links: Any, extra: int) -> None:
    """Add to the list's dropped counter under its lock (the SDK's `append` updates it there)."""
    if extra:
        with links._lock:
            links.dropped += extra


def replace_links(span: Any, links: Any, kept: list[Any], extra_dropped: int) -> Any:
    """Give the span a new list of `kept` with the old one's cap and dropped count plus `extra_dropped`."""
    replacement: Any = BoundedList(links._dq.maxlen)
    replacement.extend(kept)
    with links._lock:
        replacement.dropped += links.dropped + extra_dropped
    span._links = replacement
    return replacement


# ---------------------------------------------------------------- the stock OTLP encoder


def stock_otlp() -> dict[str, Any]:
    """The stock OTLP encoder pieces fastlinks reuses (private names of
    opentelemetry-exporter-otlp-proto-common), checked to be callables; raises ImportError naming
    the extra to install when the exporter is missing."""
    try:
        from opentelemetry.exporter.otlp.proto.common._internal import (
            _encode_attributes,
            _encode_instrumentation_scope,
            _encode_resource,
        )
        from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError as error:
        raise ImportError(f"fastlinks.otlp needs the OTLP exporter: pip install 'fastlinks[otlp]' ({error})") from error
    pieces = {
        "_encode_attributes": _encode_attributes,
        "_encode_instrumentation_scope": _encode_instrumentation_scope,
        "_encode_resource": _encode_resource,
        "_encode_span": _encode_span,
        "encode_spans": encode_spans,
    }
    ASSUMPTIONS["the stock OTLP encoder pieces exist"] = all(callable(p) for p in pieces.values())
    return pieces


def export_with_encoder(function: Any, encoder: Any) -> Any | None:
    """The stock exporter's own `export`, with its module-level `encode_spans` name bound to
    `encoder`; None (and a warning) when that function no longer calls `encode_spans`."""
    code: Any = getattr(function, "__code__", None)
    holds = code is not None and "encode_spans" in code.co_names and "encode_spans" in function.__globals__
    ASSUMPTIONS["the stock OTLP/HTTP export calls encode_spans"] = holds
    if not holds:
        logger.warning(
            "fastlinks: the installed OTLP/HTTP exporter no longer calls encode_spans; "
            "fastlinks.otlp.OTLPSpanExporter encodes the stock way"
        )
        return None
    import types

    scope = {**function.__globals__, "encode_spans": encoder}
    return types.FunctionType(code, scope, function.__name__, function.__defaults__, function.__closure__)


# ---------------------------------------------------------------- the SDK's own configurator


def sdk_configurator() -> type:
    """The SDK's configurator class (what `opentelemetry-instrument` runs to set the SDK up from
    `OTEL_*` variables), for `fastlinks.configurator` to extend; a private name of the SDK."""
    from opentelemetry.sdk._configuration import _OTelSDKConfigurator

    holds = isinstance(_OTelSDKConfigurator, type) and callable(getattr(_OTelSDKConfigurator, "_configure", None))
    ASSUMPTIONS["the SDK's configurator is _OTelSDKConfigurator._configure"] = holds
    if not holds:
        raise ImportError(f"opentelemetry-sdk {SDK_VERSION} has no _OTelSDKConfigurator._configure")
    return _OTelSDKConfigurator
