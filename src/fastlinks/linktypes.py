"""The `link.type` values in common use, and helpers that build links with meaningful attributes.

OpenTelemetry defines no link types; these names are the convention (OpenTracing's
`follows_from`/`child_of`, plus the batch, retry, saga and aggregation patterns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from opentelemetry.trace import Link, Span, SpanContext

from ._attributes import PerRow
from .linkset import LinkSet

LINK_TYPE = "link.type"

FOLLOWS_FROM = "follows_from"  # weak causality: B was triggered by A, not called by it
CHILD_OF = "child_of"  # strong causality across traces
RETRY = "retry"  # this attempt follows a failed one
COMPENSATION = "compensation"  # this step undoes another (saga)
BATCH_ITEM = "batch_item"  # one item of the batch this span processes
AGGREGATION = "aggregation"  # one input this span aggregates (fan-in)

__all__ = [
    "AGGREGATION",
    "BATCH_ITEM",
    "CHILD_OF",
    "COMPENSATION",
    "FOLLOWS_FROM",
    "LINK_TYPE",
    "RETRY",
    "batch_item",
    "compensation",
    "follows_from",
    "from_contexts",
    "retry",
    "validate_links",
]


def _context(target: SpanContext | Span) -> SpanContext:
    """A SpanContext, or the context of a Span."""
    if isinstance(target, SpanContext):
        return target
    if isinstance(target, Span):
        return target.get_span_context()
    raise TypeError(f"expected a SpanContext or a Span, got {type(target).__name__}")


def _link(target: SpanContext | Span, link_type: str, **attributes: Any) -> Link:
    return Link(_context(target), {LINK_TYPE: link_type, **attributes})


def follows_from(ctx: SpanContext | Span, reason: str) -> Link:
    """A `follows_from` link with `link.reason`."""
    return _link(ctx, FOLLOWS_FROM, **{"link.reason": str(reason)})


def retry(ctx: SpanContext | Span, attempt: int) -> Link:
    """A link from retry number `attempt` to the failed attempt before it (`retry.attempt`)."""
    if isinstance(attempt, bool) or not isinstance(attempt, int) or attempt < 1:
        raise ValueError(f"attempt must be an int >= 1, got {attempt!r}")
    return _link(ctx, RETRY, **{"retry.attempt": attempt})


def batch_item(ctx: SpanContext | Span, item_id: str, index: int) -> Link:
    """A link to one item of a batch (`item.id`, `item.index`)."""
    return _link(ctx, BATCH_ITEM, **{"item.id": str(item_id), "item.index": int(index)})


def compensation(ctx: SpanContext | Span, reason: str) -> Link:
    """A link from a compensating step to the step it undoes (`compensation.reason`)."""
    return _link(ctx, COMPENSATION, **{"compensation.reason": str(reason)})


def from_contexts(contexts: Iterable[SpanContext | Span], link_type: str) -> LinkSet:
    """A LinkSet of the valid contexts, each with `link.type` and `link.index` (its input position)."""
    given = [_context(c) for c in contexts]
    positions = [i for i, c in enumerate(given) if c.is_valid]
    return LinkSet.from_span_contexts(
        [given[i] for i in positions], attributes={LINK_TYPE: link_type, "link.index": PerRow(positions)}
    )


def validate_links(links: Sequence[Link]) -> list[int]:
    """The input positions whose context is invalid; empty when every link is valid."""
    if isinstance(links, LinkSet):
        return np.flatnonzero(~links.valid).tolist()
    return [i for i, link in enumerate(links) if not link.context.is_valid]
