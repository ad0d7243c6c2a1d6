"""LinkAwareSampler: sample a root span when one of its links points at a sampled trace."""

from __future__ import annotations

from collections.abc import Sequence
from operator import index as _index
from typing import Any

import numpy as np
from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from . import _otel_compat as compat
from .linkset import LinkSet


def has_sampled_link(links: Sequence[Link] | None) -> bool:
    """True if any link has a valid context with the sampled flag; a LinkSet is read column-wise.

    Only sequences are read (a generator given as `links=` must reach the span whole), and a
    link whose context cannot be read counts as not sampled."""
    if links is None:
        return False
    if isinstance(links, LinkSet):
        return bool(np.any(links.sampled))
    if not isinstance(links, (list, tuple, Sequence)):
        return False
    for link in links:
        try:
            context = link.context
            if context.is_valid and _index(context.trace_flags) & 1:
                return True
        except Exception:  # an odd link is simply not a sampled one
            continue
    return False


class LinkAwareSampler(Sampler):
    """RECORD_AND_SAMPLE for a root span with a sampled link; otherwise `delegate` decides.

    Consumers of a sampled producer's messages keep the connection even when their own root
    span would have been sampled out.
    """

    def __init__(self, delegate: Sampler) -> None:
        if not isinstance(delegate, Sampler):
            raise TypeError(f"delegate: expected an opentelemetry Sampler, got {type(delegate).__name__}")
        self.delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        try:
            if links and _is_root(parent_context) and has_sampled_link(links):
                return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes, None)
        except Exception as error:  # never into the application: the delegate decides
            compat.log_once("LinkAwareSampler.should_sample", error)
        return self.delegate.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def get_description(self) -> str:
        try:
            return f"LinkAwareSampler{{{self.delegate.get_description()}}}"
        except Exception as error:
            compat.log_once("LinkAwareSampler.get_description", error)
            return "LinkAwareSampler"


def _is_root(parent_context: Context | None) -> bool:
    """No valid parent span in the context: the span starts a trace."""
    parent = get_current_span(parent_context).get_span_context()
    return parent is None or not parent.is_valid


def linkaware_parentbased_traceidratio(arg: Any = None) -> Sampler:
    """Entry point: ``OTEL_TRACES_SAMPLER=linkaware_parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=<ratio>``.

    Gives ``LinkAwareSampler(ParentBased(TraceIdRatioBased(ratio)))``; no argument means ratio 1.0."""
    raw = "" if arg is None else str(arg).strip()
    try:
        ratio = float(raw) if raw else 1.0
    except ValueError:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {raw!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got {raw!r}")
    return LinkAwareSampler(ParentBased(TraceIdRatioBased(ratio)))
