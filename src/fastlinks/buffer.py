"""LinkBuffer: collect links one message at a time, hand them over as one LinkSet."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanContext

from . import _attributes, _kernels
from ._attributes import PerRow
from ._otel_compat import FAST_CONTEXTS
from .formats import Repeated, check_formats, check_getter, check_repeated
from .formats import parse as read_carriers
from .linkset import CompactedLinkSet, LinkSet
from .policy import LinkPolicy


class LinkBuffer:
    """Growing columns for consumers that batch by size or timeout; appends are amortized O(1).

    ``buf.add_carrier(msg.headers(), **{"messaging.message.id": msg_id})`` per message, then
    ``buf.compact(policy)`` (or ``buf.to_linkset()``) for the batch span and ``buf.clear()``.
    Safe to feed from many threads: parsing runs outside the buffer's lock, appending inside it.
    A row attribute the SDK would not take raises TypeError naming its key, before anything
    is appended, so one bad message never poisons the batch.
    """

    def __init__(
        self,
        capacity: int = 64,
        *,
        formats: Iterable[str] | str | None = None,
        repeated: Repeated = "last",
        getter: Getter[Any] | None = None,
    ) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be a positive int, got {capacity!r}")
        self._formats = None if formats is None else check_formats(formats)
        self._repeated = check_repeated(repeated)
        check_getter(getter)
        self._getter = getter
        self._trace_ids = np.empty((capacity, 16), np.uint8)
        self._span_ids = np.empty((capacity, 8), np.uint8)
        self._flags = np.empty(capacity, np.uint8)
        self._remote = np.empty(capacity, np.bool_)
        self._n = 0
        self._states: list[str | bytes | None] = []
        self._columns: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        _BUFFERS.add(self)

    def __len__(self) -> int:
        return self._n

    def _next_row(self) -> int:
        n = self._n
        if n == len(self._remote):  # the last array grown: a fork part-way leaves it short, so all grow again
            grow = 2 * n
            self._trace_ids = np.resize(self._trace_ids, (grow, 16))
            self._span_ids = np.resize(self._span_ids, (grow, 8))
            self._flags = np.resize(self._flags, grow)
            self._remote = np.resize(self._remote, grow)
        return n

    def _append(self, columns: tuple[Any, ...], row_attributes: Mapping[str, Any]) -> None:
        """Append row 0 of a kernel's one-row columns, with its trace state and attributes."""
        tids, sids, flags, remote, states = columns
        checked = {key: _attributes.row_value(key, value) for key, value in row_attributes.items()}
        with self._lock:
            n = self._next_row()
            self._trace_ids[n] = tids[0]
            self._span_ids[n] = sids[0]
            self._flags[n] = flags[0]
            self._remote[n] = remote[0]
            self._states.append(states[0] if states else None)
            for key, value in checked.items():
                self._columns.setdefault(key, [None] * n).append(value)
            for column in self._columns.values():
                if len(column) == n:
                    column.append(None)
            self._n = n + 1

    def add_carrier(self, headers: Any, **row_attributes: Any) -> None:
        """Append the link in one message's carrier (what `LinkSet.from_carriers` reads, in the
        buffer's `formats`, default the global propagator's, through its `getter` if it has one)."""
        try:
            columns = read_carriers([headers], self._formats, self._repeated, self._getter)
        except TypeError as error:
            raise TypeError(str(error).replace("carriers[0]", "headers")) from None
        self._append(columns, row_attributes)

    def add_traceparent(
        self, value: str | bytes | None, tracestate: str | bytes | None = None, **row_attributes: Any
    ) -> None:
        """Append the link a W3C traceparent value names; a malformed one becomes an invalid row.

        `tracestate` is kept only for a valid traceparent, as in `LinkSet.from_traceparents`."""
        self._append(_kernels.parse.parse_traceparents([value], [tracestate]), row_attributes)

    def add_context(self, span_context: SpanContext, **row_attributes: Any) -> None:
        """Append a link to a SpanContext."""
        try:
            columns = _kernels.materialize.ids_from_contexts([span_context], FAST_CONTEXTS)
        except TypeError as error:
            raise TypeError(str(error).replace("contexts[0]", "span_context")) from None
        self._append(columns, row_attributes)

    def to_linkset(self, attributes: Mapping[str, Any] | None = None) -> LinkSet:
        """The batch so far as a LinkSet (a copy); `attributes` apply to every row."""
        with self._lock:  # copies of the rows so far; from_arrays copies the ID columns itself
            n = self._n
            trace_ids, span_ids = self._trace_ids[:n], self._span_ids[:n]
            flags, remote = self._flags[:n].copy(), self._remote[:n].copy()
            states = list(self._states) if any(self._states) else None
            merged = {**{key: PerRow(list(column)) for key, column in self._columns.items()}, **(attributes or {})}
            return LinkSet.from_arrays(trace_ids, span_ids, flags, remote, states, merged or None)

    def compact(
        self, policy: LinkPolicy | None = None, attributes: Mapping[str, Any] | None = None
    ) -> CompactedLinkSet:
        """`to_linkset(attributes).compact(policy)`."""
        return self.to_linkset(attributes).compact(policy)

    def clear(self) -> None:
        """Start the next batch, keeping the allocated capacity."""
        with self._lock:
            self._n = 0
            self._states = []
            self._columns = {}

    def _after_fork(self) -> None:
        """In a forked child: a fresh lock, and the rows cut back to the last whole one. A fork while
        another thread was appending leaves the child's copy of the lock held (its next add would
        wait forever) and maybe a row half-appended (`_n` is set last)."""
        self._lock = threading.Lock()
        del self._states[self._n :]
        for column in self._columns.values():
            del column[self._n :]


_BUFFERS: weakref.WeakSet[LinkBuffer] = weakref.WeakSet()  # every live buffer, for the fork hook


def _after_fork_in_child() -> None:
    for buffer in list(_BUFFERS):
        buffer._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows; as `logging` renews its handlers' locks
    os.register_at_fork(after_in_child=_after_fork_in_child)
