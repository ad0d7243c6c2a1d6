"""Which propagation formats fastlinks reads from carriers: the application's, unless told.

By default fastlinks reads what the application's global propagator would
(`opentelemetry.propagate.get_global_textmap()`, which the API builds from `OTEL_PROPAGATORS`
or the application set in code): each official propagator it recognizes, inside composites too,
is parsed in bulk by the compiled kernel, in the composite's order (a later valid context
replaces an earlier one, as `CompositePropagator` does); `baggage` carries no context and is
skipped. A propagator fastlinks does not know makes it call the whole propagator per message
(correct, slower), and says so once at INFO.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagate import get_global_textmap
from opentelemetry.propagators.textmap import Getter, TextMapPropagator

from . import _kernels
from ._columns import Columns
from ._otel_compat import FAST_CONTEXTS, composite_parts, log_once
from ._parse_py import _HEADERS, _NESTED_NAMES, FORMATS, REPEATED, _attribute_value, _pairs
from ._parse_py import _text as _text_of

Repeated = Literal["last", "first", "invalid"]
"""Which value of a header repeated in a list of pairs counts: the last (the most recent hop), the
first, or none (the row is invalid)."""

_OFFICIAL = {  # (module, class) of the official propagators -> the format that reads the same
    ("opentelemetry.trace.propagation.tracecontext", "TraceContextTextMapPropagator"): "tracecontext",
    ("opentelemetry.baggage.propagation", "W3CBaggagePropagator"): None,
    ("opentelemetry.propagators.b3", "B3MultiFormat"): "b3multi",
    ("opentelemetry.propagators.b3", "B3SingleFormat"): "b3",
    ("opentelemetry.propagators.b3", "B3Format"): "b3multi",
    ("opentelemetry.propagators.jaeger", "JaegerPropagator"): "jaeger",
    ("opentelemetry.propagators.aws.aws_xray_propagator", "AwsXRayPropagator"): "xray",
    ("opentelemetry.propagators.ot_trace", "OTTracePropagator"): "ottrace",
}
_logger = logging.getLogger("fastlinks")
_last: tuple[object, tuple[str, ...] | None] = (None, None)  # the last global propagator seen, resolved
_CHECKED: dict[tuple[str, ...], tuple[str, ...]] = {}  # explicit formats= tuples already checked


def formats_of(propagator: TextMapPropagator) -> tuple[str, ...] | None:
    """The bulk formats that extract what `propagator` does, in order; None when some part of it is
    not an official propagator fastlinks knows (subclasses included: they may extract differently)."""
    parts = composite_parts(propagator)
    if parts is not None:
        out: list[str] = []
        for part in parts:
            inner = formats_of(part)
            if inner is None:
                return None
            out += inner
        return tuple(out)
    key = (type(propagator).__module__, type(propagator).__qualname__)
    if key not in _OFFICIAL:
        return None
    name = _OFFICIAL[key]
    return (name,) if name else ()


def check_formats(formats: Iterable[str] | str) -> tuple[str, ...]:
    """An explicit `formats=` as a tuple, with `baggage` dropped; ValueError naming an unknown one.
    A tuple of exact strs is checked once (a caller passes the same one with every batch)."""
    if type(formats) is tuple:
        try:
            found = _CHECKED.get(formats)
        except Exception:  # an item that cannot be hashed is no format's name: the checks below say so
            found = None
        if found is not None:
            return found
        if len(_CHECKED) < 64 and all(type(name) is str for name in formats):
            found = _CHECKED[formats] = check_formats(list(formats))
            return found
    if isinstance(formats, str):
        formats = [part.strip() for part in formats.split(",") if part.strip()]
    out = []
    for name in formats:
        if name == "baggage":
            continue
        if name not in FORMATS:
            raise ValueError(f"formats: unknown format {name!r}; known: {', '.join(FORMATS)}, baggage")
        out.append(name)
    return tuple(out)


def _global_formats() -> tuple[TextMapPropagator, tuple[str, ...] | None]:
    global _last
    propagator = get_global_textmap()
    seen, formats = _last
    if seen is not propagator:
        formats = formats_of(propagator)
        if formats is None:
            _logger.info(
                "fastlinks: the global propagator %r has a part fastlinks does not parse in bulk; carriers are "
                "read by calling it once per message (correct, slower). Pass formats= to choose bulk formats.",
                propagator,
            )
        _last = (propagator, formats)
    return propagator, formats


def check_repeated(repeated: object) -> Repeated:
    """`repeated` if it names a choice; ValueError if not."""
    if not isinstance(repeated, str) or repeated not in REPEATED:
        raise ValueError(f"repeated must be one of {', '.join(REPEATED)}; got {repeated!r}")
    return repeated  # type: ignore[return-value]


def check_getter(getter: object) -> None:
    """TypeError unless `getter` is None or a Getter (an object with its `get`; not a mapping, which
    is a carrier)."""
    if getter is not None and (isinstance(getter, Mapping) or not callable(getattr(getter, "get", None))):
        raise TypeError(f"getter must be an opentelemetry.propagators.textmap.Getter, got {type(getter).__name__}")


def parse(
    carriers: Sequence[Any], formats: Iterable[str] | str | None, repeated: Repeated, getter: Getter[Any] | None = None
) -> Columns:
    """The carriers' columns, read in `formats` (None: as the global propagator reads them), each
    through `getter` when one is given."""
    if repeated != "last":  # the default needs no check
        check_repeated(repeated)
    if getter is not None:
        check_getter(getter)
    if formats is not None:
        found = check_formats(formats)
    else:
        propagator, known = _global_formats()
        if known is None:
            return _each(propagator, carriers, repeated, getter)
        found = known
    if getter is not None:
        carriers = _gathered(carriers, found, getter)
    return _kernels.parse.parse_carriers(carriers, found, repeated)


# ---------------------------------------------------------------- carriers read through a Getter

_SPELLED = {"x-amzn-trace-id": "X-Amzn-Trace-Id", "awstraceheader": "AWSTraceHeader"}
"""Header names the official propagators ask a getter for in another case than the kernels' lowercase
(fastlinks' SQS AWSTraceHeader too, as SQS spells it)."""


def _asked(formats: Iterable[str]) -> tuple[str, ...]:
    """The names a getter is asked for to read `formats`: every header they read (b3multi reads b3's),
    once each, spelled as the official propagators ask for them."""
    headers = (name for fmt in formats for name in _HEADERS["b3" if fmt == "b3multi" else fmt])
    return tuple(dict.fromkeys(_SPELLED.get(name, name) for name in headers))


def _gathered(carriers: Sequence[Any], formats: tuple[str, ...], getter: Getter[Any]) -> list[Any]:
    """Each carrier as the dict of what `getter.get` gives for every name the formats read, as the
    official propagators ask it; a getter that raises costs its message (None), never the batch."""
    names = _asked(formats)
    get = getter.get
    out: list[Any] = []
    for carrier in carriers:
        headers: dict[str, Any] = {}
        try:
            for name in names:
                value = get(carrier, name)
                if value is not None:
                    headers[name] = value
        except Exception as error:
            log_once(f"{type(getter).__name__}.get", error)
            out.append(None)
            continue
        out.append(headers)
    return out


# ---------------------------------------------------------------- a propagator fastlinks does not know


class _HeadersGetter(Getter[Mapping[str, list[str]]]):
    """Reads the lowercase-name -> values mapping `_headers` makes, case-insensitively."""

    def get(self, carrier: Mapping[str, list[str]], key: str) -> list[str] | None:
        return carrier.get(key.lower())

    def keys(self, carrier: Mapping[str, list[str]]) -> list[str]:
        return list(carrier)


_GETTER = _HeadersGetter()


def _text(value: Any) -> str | None:
    if isinstance(value, Mapping):  # an SQS/SNS message attribute
        value = _attribute_value(value)
    return _text_of(value) if isinstance(value, (str, bytes)) else None


def _occurrence(value: Any) -> list[str] | None:
    """One header's values as the default getter hands them on: a list or tuple gives its items
    (each str, bytes or SQS attribute), any other value itself; None when it has no usable value."""
    if not isinstance(value, (list, tuple)):
        text = _text(value)
        return None if text is None else [text]
    texts = []
    for item in value:
        text = None if isinstance(item, (list, tuple)) else _text(item)  # one level only
        if text is None:
            return None
        texts.append(text)
    return texts or None


def _headers(carrier: Any, index: int, repeated: Repeated) -> dict[str, list[str]]:
    """One carrier as lowercase name -> values, read as the kernels read carriers (the twin's own
    carrier helpers): a name repeated in a list of pairs follows `repeated`, in a mapping it is
    dropped; a header given a list of values passes them all on, as the default getter does (the
    propagator picks); tracestate values are all kept."""
    pairs, is_pairs = _pairs(carrier, index)
    seen: dict[str, list[list[str]]] = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"carriers[{index}]: header items must be (key, value) pairs, got {type(pair).__name__}")
        key = _text(pair[0])
        if key is not None and key.lower() in _NESTED_NAMES and isinstance(pair[1], Mapping):  # a whole SQS message
            items = [(_text(k), v) for k, v in pair[1].items()]
        else:
            items = [(key, pair[1])]
        for name, value in items:
            values = _occurrence(value)
            if name is not None and values is not None and name.lower() not in _NESTED_NAMES:
                seen.setdefault(name.lower(), []).append(values)
    out: dict[str, list[str]] = {}
    for name, found in seen.items():
        if name == "tracestate":
            out[name] = [value for values in found for value in values]
        elif len(found) == 1 or (is_pairs and repeated != "invalid"):
            out[name] = found[-1] if repeated == "last" else found[0]
    return out


def _each(
    propagator: TextMapPropagator, carriers: Sequence[Any], repeated: Repeated, getter: Getter[Any] | None
) -> Columns:
    """The global propagator called per message (with `getter` on the carrier itself when given);
    one that raises makes its message an invalid row."""
    contexts = []
    for i, carrier in enumerate(carriers):
        headers, reader = (_headers(carrier, i, repeated), _GETTER) if getter is None else (carrier, getter)
        try:
            context = trace.get_current_span(propagator.extract(headers, Context(), reader)).get_span_context()
        except Exception as error:  # a propagator's bug costs its message, never the batch
            log_once(f"{type(propagator).__name__}.extract", error)
            context = trace.INVALID_SPAN_CONTEXT
        contexts.append(context)
    return _kernels.materialize.ids_from_contexts(contexts, FAST_CONTEXTS)
