"""LinkProcessor: compacts the links of spans fastlinks did not build, and keeps dropped counts true.

The SDK copies a span's links into a `BoundedList` (capped at `SpanLimits.max_links`, counting
what it evicts) before any processor runs. `on_start` runs before the span reaches anyone
else, so it can still replace that list and add to its count:

- links built from a compacted LinkSet carry its `CompactionStats`: their dropped count is
  added once per LinkSet;
- any other links are compacted with the policy, and what it removes is added.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.util import BoundedList

from .linkset import LinkSet
from .policy import LinkPolicy, default_policy

_ACCOUNTED = "_fastlinks_accounted"  # set on a span once its dropped count includes fastlinks' drops


def add_dropped_links(span: Any, count: int) -> bool:
    """Add `count` to an SDK span's dropped-links counter, once; False if it is not an SDK span."""
    links = getattr(span, "_links", None)
    if not isinstance(links, BoundedList) or getattr(span, _ACCOUNTED, False):
        return False
    links.dropped += count
    setattr(span, _ACCOUNTED, True)
    return True


class LinkProcessor(SpanProcessor):
    """Applies a `LinkPolicy` to every span's links at start: ``provider.add_span_processor(LinkProcessor())``.

    The SDK caps links at `OTEL_SPAN_LINK_COUNT_LIMIT` (default 128, keeping the last) before this
    processor sees them; lift that limit and set `FASTLINKS_LINK_LIMIT` (or `max_links`) to let the
    policy choose which links stay. Stateless apart from the policy, so safe on many threads.
    """

    def __init__(self, policy: LinkPolicy | None = None) -> None:
        self.policy = policy if policy is not None else default_policy()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        links = getattr(span, "_links", None)
        if not isinstance(links, BoundedList) or not links or getattr(span, _ACCOUNTED, False):
            return
        items = list(links)
        origins: dict[int, Any] = {}
        plain = False
        for link in items:
            stats = getattr(link, "_stats", None)
            if stats is None:
                plain = True
            else:
                origins[id(stats)] = stats
        dropped = sum(stats.dropped for stats in origins.values())
        if plain:
            kept, invalid, duplicates, over = self._choose(items)
            if len(kept) < len(items):
                maxlen = links._dq.maxlen  # type: ignore[attr-defined]  # the SDK's own cap, kept as it was
                replacement = BoundedList.from_seq(maxlen, [items[i] for i in kept.tolist()])
                replacement.dropped = links.dropped
                span._links = replacement
            dropped += invalid + duplicates + over
        add_dropped_links(span, dropped)

    def _choose(self, items: list[Any]) -> tuple[Any, int, int, int]:
        """The policy over the links' contexts: kept positions and the counts of what went."""
        contexts = LinkSet.from_span_contexts([link.context for link in items])
        keep_invalid = None
        if self.policy.keep_invalid_with_attributes:
            keep_invalid = np.array([bool(link.attributes or link.context.trace_state) for link in items])
        return contexts._select(self.policy, keep_invalid)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do: links are settled at start."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True
