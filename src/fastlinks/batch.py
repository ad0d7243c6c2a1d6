"""start_batch_span: one call from a batch of message headers to a span linked to their producers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace

from .linkset import LinkSet
from .policy import LinkPolicy
from .processor import add_dropped_links

MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"


def start_batch_span(
    tracer: trace.Tracer,
    name: str,
    carriers: Sequence[Any],
    policy: LinkPolicy | None = None,
    *,
    link_attributes: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> trace.Span:
    """Parse the carriers' traceparents, compact them with `policy`, start a span linked to the kept
    producers, and set `messaging.batch.message_count`; other arguments go to `tracer.start_span`.

    The span's dropped-links count includes everything compaction removed, even when nothing was
    kept (the SDK turns empty links into ``()``, so no processor can see those drops)."""
    carriers = carriers if isinstance(carriers, (list, tuple)) else list(carriers)
    links = LinkSet.from_carriers(carriers, link_attributes).compact(policy)
    attributes = dict(kwargs.pop("attributes", None) or {})
    attributes[MESSAGING_BATCH_MESSAGE_COUNT] = len(carriers)
    span = tracer.start_span(name, links=links, attributes=attributes, **kwargs)
    add_dropped_links(span, links.stats.dropped)  # a no-op when LinkProcessor already counted them
    return span


@contextmanager
def start_as_current_batch_span(
    tracer: trace.Tracer,
    name: str,
    carriers: Sequence[Any],
    policy: LinkPolicy | None = None,
    *,
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
