"""LinkSet: N candidate links held as numpy columns, read as a Sequence of OpenTelemetry Links."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import chain
from typing import Any, overload

import numpy as np
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link, SpanContext

from . import _attributes, _kernels
from ._attributes import PerRow
from ._columns import Columns, _frozen, _ids, _row_column, _states, check_pickled, iterable
from ._otel_compat import FAST_CONTEXTS
from .formats import Repeated
from .formats import parse as read_carriers
from .policy import CompactionStats, LinkPolicy, default_policy
from .w3c import parse_tracestates

_CHUNK = 4096  # rows materialized at a time when iterating
_COLUMNS = ("trace_ids", "span_ids", "trace_flags", "is_remote")


class LinkSetLink(Link):
    """A Link built from a LinkSet row; it remembers what compaction dropped, for honest counts.
    Its fields are slots, which the materialize kernel fills directly for 128 links at a time."""

    __slots__ = ("_attributes", "_context", "_dropped_attributes", "_stats")

    def __init__(self, context: SpanContext, attributes: Any = None) -> None:
        super().__init__(context, attributes)
        self._stats: CompactionStats | None = None
        self._dropped_attributes = 0

    @property
    def dropped_attributes(self) -> int:
        """Attributes dropped by the SDK's limit plus those over the policy's per-link cap."""
        attributes = self._attributes
        return (attributes.dropped if isinstance(attributes, BoundedAttributes) else 0) + self._dropped_attributes


class LinkSet(Sequence[Link]):
    """Candidate links as columns: `trace_ids` (N, 16) uint8, `span_ids` (N, 8) uint8,
    `trace_flags` (N,) uint8, `is_remote` (N,) bool, optional raw `trace_states` and attributes.

    Indexing and iteration build real `opentelemetry.trace.Link` objects, only for the rows
    asked for, so a LinkSet goes straight into ``tracer.start_span(links=...)``.
    `compact()` validates, deduplicates, prefers sampled rows and caps, and returns a
    `CompactedLinkSet`, whose `stats` say what it did; a LinkSet that was never compacted has
    `stats` None.
    """

    __slots__ = (
        "_attribute_limit",
        "_per_row",
        "_shared",
        "is_remote",
        "span_ids",
        "trace_flags",
        "trace_ids",
        "trace_states",
    )

    def __init__(
        self,
        *,
        columns: Columns,
        shared: Mapping[str, Any] | None = None,
        per_row: Mapping[str, Any] | None = None,
        attribute_limit: int | None = None,
    ) -> None:
        """Wrap ready, read-only columns as they are, with checked attributes: shared values and
        per-row value columns. Use the `from_*` constructors, which check their input."""
        self._fill(columns, shared, per_row, attribute_limit)

    def _fill(
        self,
        columns: Sequence[Any],
        shared: Mapping[str, Any] | None,
        per_row: Mapping[str, Any] | None,
        attribute_limit: int | None,
    ) -> None:
        """Set every slot but a CompactedLinkSet's stats, as given (what both constructors do,
        and `_take` for a kernel's new columns without the constructors' checks)."""
        self.trace_ids, self.span_ids, self.trace_flags, self.is_remote, self.trace_states = columns
        self._shared: Mapping[str, Any] = shared or {}
        self._per_row: Mapping[str, Any] = per_row or {}
        self._attribute_limit = attribute_limit

    @property
    def stats(self) -> CompactionStats | None:
        """What compaction did: None, since this set was not compacted (see `CompactedLinkSet`)."""
        return None

    @property
    def columns(self) -> Columns:
        """The link columns and raw trace states, as one named tuple."""
        return Columns(self.trace_ids, self.span_ids, self.trace_flags, self.is_remote, self.trace_states)

    # ------------------------------------------------------------ constructors

    @classmethod
    def _with_attributes(cls, columns: Columns, attributes: Mapping[str, Any] | None) -> LinkSet:
        """A LinkSet of a kernel's new columns, with the caller's attributes checked and split."""
        shared, per_row = _attributes.split(attributes, len(columns.trace_ids))
        made = LinkSet.__new__(LinkSet)  # checked here: without the keyword constructor's call
        made._fill(columns, shared, per_row, None)
        return made

    @classmethod
    def from_arrays(
        cls,
        trace_ids: Any,
        span_ids: Any,
        trace_flags: Any = None,
        is_remote: Any = None,
        trace_states: Sequence[str | bytes | None] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> LinkSet:
        """Links from ID arrays: (N, 16) uint8 or (N, 2) uint64 trace IDs, (N, 8) uint8 or (N,) uint64
        span IDs; flags default to 0 and `is_remote` to False, as in `SpanContext`."""
        tids = _ids("trace_ids", trace_ids, None, 16)
        n = len(tids)
        sids = _ids("span_ids", span_ids, n, 8)
        flags = _row_column("trace_flags", trace_flags, n, np.uint8, 255)
        remote = _row_column("is_remote", is_remote, n, np.bool_, 1)
        return cls._with_attributes(
            Columns(*_frozen(tids, sids, flags, remote), _states("trace_states", trace_states, n)), attributes
        )

    @classmethod
    def from_span_contexts(
        cls, contexts: Iterable[SpanContext], attributes: Mapping[str, Any] | None = None
    ) -> LinkSet:
        """Links to the given SpanContexts (invalid ones are kept as rows, for compact() to count)."""
        if isinstance(contexts, SpanContext):  # a tuple itself: iterating it would give its fields
            raise TypeError("contexts: expected a sequence of SpanContexts, got a single SpanContext")
        contexts = contexts if isinstance(contexts, (list, tuple)) else list(iterable("contexts", contexts))
        return cls._with_attributes(_kernels.materialize.ids_from_contexts(contexts, FAST_CONTEXTS), attributes)

    @classmethod
    def from_links(cls, links: Iterable[Link]) -> LinkSet:
        """Links given as OpenTelemetry Link objects; their attributes become per-row columns."""
        links = links if isinstance(links, (list, tuple)) else list(iterable("links", links))
        for i, link in enumerate(links):
            if not isinstance(link, Link):
                raise TypeError(f"links[{i}]: expected an opentelemetry.trace.Link, got {type(link).__name__}")
        columns: dict[str, list[Any]] = {}
        n = len(links)
        for i, link in enumerate(links):
            for key, value in (link.attributes or {}).items():
                columns.setdefault(key, [None] * n)[i] = value
        per_row = {key: PerRow(values) for key, values in columns.items()}
        return cls.from_span_contexts([link.context for link in links], per_row or None)

    @classmethod
    def from_traceparents(
        cls,
        traceparents: Sequence[str | bytes | None],
        tracestates: Sequence[str | bytes | None] | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> LinkSet:
        """Links parsed from W3C `traceparent` values (and optional parallel `tracestate` values).

        A malformed value makes its row invalid (counted by `compact()`), never an exception."""
        if isinstance(traceparents, (str, bytes)):
            raise TypeError("traceparents: expected a sequence of values, got a single str/bytes")
        values = (
            traceparents if isinstance(traceparents, (list, tuple)) else list(iterable("traceparents", traceparents))
        )
        if isinstance(tracestates, (str, bytes)):
            raise TypeError("tracestates: expected a sequence of values, got a single str/bytes")
        states = None if tracestates is None else list(iterable("tracestates", tracestates))
        if states is not None and len(states) != len(values):
            raise ValueError(f"tracestates: expected {len(values)} values (one per traceparent), got {len(states)}")
        return cls._with_attributes(_kernels.parse.parse_traceparents(values, states), attributes)

    @classmethod
    def from_carriers(
        cls,
        carriers: Sequence[Any],
        attributes: Mapping[str, Any] | None = None,
        *,
        formats: Iterable[str] | str | None = None,
        repeated: Repeated = "last",
        getter: Getter[Any] | None = None,
    ) -> LinkSet:
        """Links parsed from message carriers (mappings, (key, value) lists, client messages, SQS
        messages: the README's "Carriers and formats") in `formats`, by default the global
        propagator's; a name repeated in a list of pairs takes the `repeated` value. Any other
        carrier is read through `getter`, as a propagator's `extract` reads it. A row with no
        valid context is invalid (counted by `compact()`); a bad carrier is a TypeError naming it."""
        carriers = carriers if isinstance(carriers, (list, tuple)) else list(iterable("carriers", carriers))
        return cls._with_attributes(read_carriers(carriers, formats, repeated, getter), attributes)

    @classmethod
    def concat(cls, sets: Iterable[LinkSet], policy: LinkPolicy | None = None) -> LinkSet:
        """Join link sets in order. Raw sets give a raw set. Once any part is compacted, the raw
        parts are compacted with `policy` first (default `LinkPolicy()`) and the result is
        compacted part by part, with the counts of every part summed: nothing is lost, and the
        result says what happened (`compact()` it again to deduplicate and cap across parts)."""
        sets = list(iterable("sets", sets))
        for i, s in enumerate(sets):
            if not isinstance(s, LinkSet):
                raise TypeError(f"sets[{i}]: expected a LinkSet, got {type(s).__name__}")
        if not sets:
            return cls.from_arrays(np.empty((0, 16), np.uint8), np.empty((0, 8), np.uint8))
        stats = None
        if any(s.stats is not None for s in sets):
            compacted = [s if isinstance(s, CompactedLinkSet) else s.compact(policy) for s in sets]
            stats = compacted[0].stats
            for part in compacted[1:]:
                stats = stats.plus(part.stats)
            sets = list(compacted)
        states = None
        if any(s.trace_states is not None for s in sets):
            states = [st for s in sets for st in (s.trace_states or [None] * len(s))]
        shared, per_row = _attributes.concat([(s._shared, s._per_row, len(s)) for s in sets])
        limits = [s._attribute_limit for s in sets if s._attribute_limit is not None]
        tids, sids, flags, remote = (np.concatenate([getattr(s, name) for s in sets]) for name in _COLUMNS)
        columns = Columns(*_frozen(tids, sids, flags, remote), states)
        limit = min(limits) if limits else None
        if stats is None:
            return LinkSet(columns=columns, shared=shared, per_row=per_row, attribute_limit=limit)
        return CompactedLinkSet(columns=columns, stats=stats, shared=shared, per_row=per_row, attribute_limit=limit)

    # ------------------------------------------------------------ compaction

    @property
    def valid(self) -> np.ndarray:
        """Rows whose trace ID and span ID are both non-zero."""
        return np.asarray(self.trace_ids.any(axis=1) & self.span_ids.any(axis=1))

    @property
    def sampled(self) -> np.ndarray:
        """Valid rows whose sampled flag (0x01) is set."""
        return self.valid & ((self.trace_flags & 1) != 0)

    def compact(self, policy: LinkPolicy | None = None) -> CompactedLinkSet:
        """Validate, deduplicate, prefer sampled rows and cap, as `policy` says (default `LinkPolicy()`).

        Returns a CompactedLinkSet of the kept rows, in input order, with cumulative `stats`."""
        policy = policy if policy is not None else default_policy()
        kept, invalid, duplicates, over = self._select(policy)
        before = self.stats
        if before is None:
            stats = CompactionStats._counted(len(self.trace_ids), invalid, duplicates, over, len(kept))
        else:
            dropped = (before.invalid + invalid, before.duplicates + duplicates, before.over_limit + over)
            stats = CompactionStats(before.input, *dropped, len(kept))
        return self._take(kept, stats, policy.attribute_limit)  # type: ignore[return-value]  # stats given

    def chunks(self, size: int) -> list[LinkSet]:
        """This set's rows in order, as consecutive LinkSets of at most `size` rows (not compacted:
        nothing was dropped to make them), for spans of their own."""
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"chunks: size must be a positive int, got {size!r}")
        rows = np.arange(len(self), dtype=np.int64)
        return [
            self._take(rows[start : start + size], None, self._attribute_limit) for start in range(0, len(self), size)
        ]

    def split(self, policy: LinkPolicy | None = None) -> tuple[CompactedLinkSet, LinkSet]:
        """The policy's choice, and every other distinct valid row it left out, in input order.

        The choice counts only invalid rows and duplicates as dropped (what is left out is not
        lost: put it on spans of its own, see `chunks`); its `stats.input` is therefore the rows
        it accounts for, not all of them."""
        policy = policy if policy is not None else default_policy()
        kept, invalid, duplicates, _ = self._select(policy)
        every, _, _, _ = self._select(replace(policy, max_links=sys.maxsize))
        left = np.setdiff1d(every, kept, assume_unique=True).astype(np.int64)
        prior = self.stats or CompactionStats(0, 0, 0, 0, 0)  # cumulative, as compact() is
        invalid, duplicates = prior.invalid + invalid, prior.duplicates + duplicates
        dropped = invalid + duplicates + prior.over_limit
        stats = CompactionStats(dropped + len(kept), invalid, duplicates, prior.over_limit, len(kept))
        chosen = self._take(kept, stats, policy.attribute_limit)
        return chosen, self._take(left, None, policy.attribute_limit)  # type: ignore[return-value]

    def _select(self, policy: LinkPolicy, keep_invalid: np.ndarray | None = None) -> tuple[np.ndarray, int, int, int]:
        """The compaction kernel over this set: kept rows, then invalid, duplicate, over-cap counts."""
        if keep_invalid is None and policy.keep_invalid_with_attributes:
            keep_invalid = self._carries_data()
        return _kernels.compact_rows(
            self.trace_ids,
            self.span_ids,
            self.trace_flags,
            keep_invalid,
            policy.link_limit,
            policy.dedupe,
            policy.strategy,
            policy.prefer_sampled,
            self._seed(policy),
        )

    @staticmethod
    def _seed(policy: LinkPolicy) -> int:
        """The policy's seed; a fresh one for an unseeded "random" (other strategies ignore it)."""
        if policy.seed is not None:
            return policy.seed
        return secrets.randbits(64) if policy.strategy == "random" else 0

    def _carries_data(self) -> np.ndarray:
        """Invalid rows the OpenTelemetry spec still allows as links: with attributes or a trace state."""
        mask = _attributes.has_values(self._shared, self._per_row, len(self))
        states = self.trace_states
        if states is not None and not mask.all():  # only invalid rows without attributes need a trace state
            rows = [i for i in np.flatnonzero(~mask & ~self.valid).tolist() if states[i]]
            for i, state in zip(rows, parse_tracestates(states, rows), strict=True):
                mask[i] = bool(state)
        return mask

    def _take(self, rows: np.ndarray, stats: CompactionStats | None, attribute_limit: int | None) -> LinkSet:
        states = None
        if self.trace_states is not None:
            raw = self.trace_states if isinstance(self.trace_states, list) else list(self.trace_states)
            states = _kernels.compact.take_values(raw, rows)
            states = states if any(states) else None
        arrays = _kernels.compact.take(self.trace_ids, self.span_ids, self.trace_flags, self.is_remote, rows)
        per_row = _attributes.take(self._per_row, rows) if self._per_row else {}
        # the kernel's new columns and this set's checked attributes, without the constructors'
        # checks (one of these per compaction)
        taken = LinkSet.__new__(LinkSet) if stats is None else CompactedLinkSet.__new__(CompactedLinkSet)
        taken._fill((*arrays, states), self._shared, per_row, attribute_limit)
        if stats is not None:
            taken._stats = stats  # type: ignore[attr-defined]  # a CompactedLinkSet's
        return taken

    # ------------------------------------------------------------ Sequence of Link

    def _links(self, rows: np.ndarray | None) -> list[Link]:
        """Links for `rows` (None: every row)."""
        states = None
        if self.trace_states is not None:
            picked = range(len(self)) if rows is None else rows.tolist()
            states = parse_tracestates(self.trace_states, picked)
        attrs, columns, dropped = _attributes.per_row(
            self._shared, self._per_row, rows, len(self), self._attribute_limit
        )
        ids = (self.trace_ids, self.span_ids, self.trace_flags, self.is_remote)
        return _kernels.materialize.make_links(
            *ids, rows, states, attrs, columns, dropped, LinkSetLink, self.stats, FAST_CONTEXTS
        )

    def __len__(self) -> int:
        return len(self.trace_ids)

    @overload
    def __getitem__(self, index: int) -> Link: ...
    @overload
    def __getitem__(self, index: slice) -> LinkSet: ...
    def __getitem__(self, index: int | slice) -> Link | LinkSet:
        """A Link for an int index; a LinkSet of those rows for a slice. A slice of a compacted
        set stays compacted: its stats add the rows the slice cut to `over_limit`."""
        n = len(self)
        if isinstance(index, slice):
            rows = np.arange(n, dtype=np.int64)[index].copy()
            stats = self.stats
            if stats is not None and len(rows) != n:
                stats = CompactionStats(
                    stats.input, stats.invalid, stats.duplicates, stats.over_limit + n - len(rows), len(rows)
                )
            return self._take(rows, stats, self._attribute_limit)
        if isinstance(index, (bool, float)) or not hasattr(index, "__index__"):
            raise TypeError(f"LinkSet indices must be integers or slices, not {type(index).__name__}")
        i = index.__index__()
        if not -n <= i < n:
            raise IndexError(f"LinkSet index {index} out of range for {n} links")
        return self._links(np.array([i % n], dtype=np.int64))[0]

    def __iter__(self) -> Iterator[Link]:
        n = len(self.trace_ids)
        if n <= _CHUNK:  # one list, no generator between the caller and the Links
            return iter(self._links(None))
        chunks = (np.arange(start, min(start + _CHUNK, n), dtype=np.int64) for start in range(0, n, _CHUNK))
        return chain.from_iterable(map(self._links, chunks))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(len={len(self)}, stats={self.stats})"

    # ------------------------------------------------------------ export

    def to_traceparents(self) -> list[str]:
        """Each row as a version-00 W3C traceparent string."""
        return _kernels.materialize.format_traceparents(self.trace_ids, self.span_ids, self.trace_flags)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the columns, not Link objects, so a batch travels cheaply between processes."""
        return (
            _unpickle,
            (
                self.trace_ids,
                self.span_ids,
                self.trace_flags,
                self.is_remote,
                self.trace_states,
                self._shared,
                self._per_row,
                self.stats,
                self._attribute_limit,
            ),
        )


class CompactedLinkSet(LinkSet):
    """A LinkSet the policy was applied to (by `compact()`, or a slice or `concat` of such sets):
    `stats` is always there, and ``stats.input == invalid + duplicates + over_limit + kept``."""

    __slots__ = ("_stats",)

    def __init__(
        self,
        *,
        columns: Columns,
        stats: CompactionStats,
        shared: Mapping[str, Any] | None = None,
        per_row: Mapping[str, Any] | None = None,
        attribute_limit: int | None = None,
    ) -> None:
        if not isinstance(stats, CompactionStats):
            raise TypeError(f"stats: expected CompactionStats, got {type(stats).__name__}")
        self._fill(columns, shared, per_row, attribute_limit)
        if stats.kept != len(self.trace_ids):
            raise ValueError(f"stats.kept is {stats.kept} for {len(self.trace_ids)} rows")
        self._stats = stats

    @property
    def stats(self) -> CompactionStats:
        """What compaction did to get these rows."""
        return self._stats

    @overload
    def __getitem__(self, index: int) -> Link: ...
    @overload
    def __getitem__(self, index: slice) -> CompactedLinkSet: ...
    def __getitem__(self, index: int | slice) -> Link | CompactedLinkSet:
        return super().__getitem__(index)  # type: ignore[return-value]  # a slice keeps the stats


def _unpickle(*parts: Any) -> LinkSet:
    """Rebuild a pickled LinkSet, checking everything a crafted pickle could get wrong."""
    check_pickled(*parts)
    trace_ids, span_ids, trace_flags, is_remote, trace_states, shared, per_row, stats, limit = parts
    arrays = _frozen(*(np.ascontiguousarray(c) for c in (trace_ids, span_ids, trace_flags, is_remote)))
    columns = Columns(*arrays, trace_states)
    if stats is None:
        return LinkSet(columns=columns, shared=shared, per_row=per_row, attribute_limit=limit)
    return CompactedLinkSet(columns=columns, stats=stats, shared=shared, per_row=per_row, attribute_limit=limit)
