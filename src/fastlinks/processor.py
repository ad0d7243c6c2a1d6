"""LinkProcessor: compacts the links of spans fastlinks did not build, and keeps dropped counts true.

The SDK copies a span's links into a `BoundedList` (capped at `SpanLimits.max_links`, counting
what it evicts) before any processor runs. `on_start` runs before the span reaches anyone
else, so it can still replace that list and add to its count:

- links built from a compacted LinkSet carry its `CompactionStats`: what that compaction saw
  but the span did not get (its input minus the links handed over) is added once;
- any other links are compacted with the policy, and what it removes is added.

Links added after start (`span.add_link`) are compacted again when the span ends, on SDKs that
call `SpanProcessor._on_ending` (1.40 and later). Nothing here ever raises into the
application: an input fastlinks cannot handle leaves the span as the stock SDK made it, and the
cause is logged once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from . import _kernels
from . import _otel_compat as compat
from .linkset import LinkSet, LinkSetLink
from .policy import CompactionStats, LinkPolicy, default_policy

_SEEN = "_fastlinks_links"  # on a span: its link count (held + dropped) once fastlinks accounted for it


def add_dropped_links(span: Any, count: int) -> bool:
    """Add `count` to an SDK span's dropped-links counter, once; False if it is not an SDK span
    or fastlinks already accounted for its links."""
    links = compat.span_links(span)
    if links is None or hasattr(span, _SEEN):
        return False
    compat.add_dropped(links, count)
    setattr(span, _SEEN, compat.count(links))
    return True


class LinkProcessor(SpanProcessor):
    """Applies a `LinkPolicy` to every span's links: ``provider.add_span_processor(LinkProcessor())``.

    The SDK caps links at `OTEL_SPAN_LINK_COUNT_LIMIT` (default 128, keeping the last) before this
    processor sees them; lift that limit and set `FASTLINKS_LINK_LIMIT` (or `max_links`) to let the
    policy choose which links stay. Stateless apart from the policy, so safe on many threads.
    """

    def __init__(self, policy: LinkPolicy | None = None) -> None:
        self.policy = policy if policy is not None else default_policy()
        # what the kernels read on every span start and end, bound once (they are chosen at import)
        self._config = (
            *compat.LINK_LIST,
            _SEEN,
            self.policy.link_limit,
            self.policy.dedupe,
            LinkSetLink,
            CompactionStats,
            compat.FAST_CONTEXTS,
        )
        self._start_scan, self._links_added = _kernels.compact.start_scan, _kernels.compact.links_added
        self._active = compat.SPAN_LINKS

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            found = self._start_scan(span, self._config) if self._active else None
            if found is None:
                return  # no links, or nothing to change: the kernel remembered the count
            needs_policy, origin_inputs, from_origins, links, held = found
            # what LinkSets saw but did not hand over; SDK evictions are its own count already
            extra = max(origin_inputs - from_origins - (0 if from_origins < len(held) else links.dropped), 0)
            if needs_policy:
                links = self._apply(span, links, list(held), extra)
            else:
                compat.add_dropped(links, extra)
            setattr(span, _SEEN, compat.count(links))
        except Exception as error:  # never into the application: the span keeps the SDK's links
            compat.log_once("LinkProcessor.on_start", error)

    def _on_ending(self, span: Span) -> None:
        """Compacts again a span that gained links after start (`span.add_link`)."""
        try:
            if self._active and self._links_added(span, self._config):
                links = compat.span_links(span)
                self._apply(span, links, compat.link_items(links), 0)
        except Exception as error:
            compat.log_once("LinkProcessor._on_ending", error)

    def _apply(self, span: Span, links: Any, items: list[Any], extra: int) -> Any:
        """The policy over all of the span's links; returns the span's (possibly new) list."""
        kept, invalid, duplicates, over = self._choose(items)
        dropped = extra + invalid + duplicates + over
        if len(kept) < len(items):
            return compat.replace_links(span, links, [items[i] for i in kept.tolist()], dropped)
        compat.add_dropped(links, dropped)
        return links

    def _choose(self, items: list[Any]) -> tuple[Any, int, int, int]:
        """The policy over the links' contexts: kept positions and the counts of what went."""
        contexts = LinkSet.from_span_contexts([link.context for link in items])
        keep_invalid = None
        if self.policy.keep_invalid_with_attributes:
            keep_invalid = np.array([bool(link.attributes or link.context.trace_state) for link in items])
        return contexts._select(self.policy, keep_invalid)

    def on_end(self, span: ReadableSpan) -> None:
        """Nothing to do: links are settled at start and at ending."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered."""
        return True
