"""start_batch_span: one call from a batch of message headers to a span linked to their producers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter

from ._columns import iterable
from .formats import Repeated
from .linkset import LinkSet
from .policy import LinkPolicy, default_policy
from .processor import add_dropped_links

MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"


def start_batch_span(
    tracer: trace.Tracer,
    name: str,
    carriers: Sequence[Any],
    policy: LinkPolicy | None = None,
    *,
    link_attributes: Mapping[str, Any] | None = None,
    overflow: Literal["drop", "spill"] = "drop",
    formats: Iterable[str] | str | None = None,
    repeated: Repeated = "last",
    getter: Getter[Any] | None = None,
    **kwargs: Any,
) -> trace.Span:
    """Parse the carriers' contexts (as `LinkSet.from_carriers` does, in `formats`, with `repeated`
    and through `getter`),
    compact them with `policy`, start a span linked to the kept producers, and set
    `messaging.batch.message_count` (and, unless `policy.record_counts` is off, the
    `fastlinks.links.*` counts); other arguments go to `tracer.start_span`.

    ``overflow="spill"`` loses no distinct link: the batch span keeps the policy's choice, and every
    other distinct valid link goes to overflow spans, children of the batch span named
    ``"<name> links"``, at most the cap each, started and ended at once (before the batch span
    ends), with `fastlinks.overflow.index` and `fastlinks.overflow.count`. Then only invalid rows
    and duplicates count as dropped. The span's dropped-links count includes everything compaction
    removed, even when nothing was kept (the SDK turns empty links into ``()``, so no processor can
    see those drops)."""
    if overflow not in ("drop", "spill"):
        raise ValueError(f"overflow must be 'drop' or 'spill', got {overflow!r}")
    policy = policy if policy is not None else default_policy()
    carriers = carriers if isinstance(carriers, (list, tuple)) else list(iterable("carriers", carriers))
    candidates = LinkSet.from_carriers(carriers, link_attributes, formats=formats, repeated=repeated, getter=getter)
    if overflow == "spill":
        links, spilled = candidates.split(policy)
    else:
        links, spilled = candidates.compact(policy), None
    attributes = dict(kwargs.pop("attributes", None) or {})
    attributes[MESSAGING_BATCH_MESSAGE_COUNT] = len(carriers)
    if policy.record_counts:
        stats = links.stats
        over_limit = len(spilled) if spilled is not None else stats.over_limit
        counts = (len(carriers), stats.invalid, stats.duplicates, over_limit, len(links))
        attributes.update(zip(COUNT_ATTRIBUTES, counts, strict=True))
    span = tracer.start_span(name, links=links, attributes=attributes, **kwargs)
    add_dropped_links(span, links.stats.dropped)  # a no-op when LinkProcessor already counted them
    if spilled:
        _spill(tracer, name, span, spilled, policy.link_limit)
    return span


COUNT_ATTRIBUTES = (
    "fastlinks.links.input",
    "fastlinks.links.invalid",
    "fastlinks.links.duplicates",
    "fastlinks.links.over_limit",  # over the cap: dropped, or spilled to overflow spans
    "fastlinks.links.kept",
)


def _spill(tracer: trace.Tracer, name: str, parent: trace.Span, spilled: LinkSet, cap: int) -> None:
    """The links the batch span could not hold, on child spans of at most `cap` links each."""
    context = trace.set_span_in_context(parent)
    chunks = spilled.chunks(max(cap, 1))
    for index, chunk in enumerate(chunks):
        attributes = {"fastlinks.overflow.index": index, "fastlinks.overflow.count": len(chunks)}
        tracer.start_span(f"{name} links", context=context, links=chunk, attributes=attributes).end()


@contextmanager
def start_as_current_batch_span(
    tracer: trace.Tracer,
    name: str,
    carriers: Sequence[Any],
    policy: LinkPolicy | None = None,
    *,
    overflow: Literal["drop", "spill"] = "drop",
    end_on_exit: bool = True,
    record_exception: bool = True,
    set_status_on_exception: bool = True,
    **kwargs: Any,
) -> Iterator[trace.Span]:
    """`start_batch_span` as a context manager that makes the span current, like `start_as_current_span`."""
    span = start_batch_span(
        tracer,
        name,
        carriers,
        policy,
        overflow=overflow,
        record_exception=record_exception,
        set_status_on_exception=set_status_on_exception,
        **kwargs,
    )
    with trace.use_span(
        span,
        end_on_exit=end_on_exit,
        record_exception=record_exception,
        set_status_on_exception=set_status_on_exception,
    ) as current:
        yield current
