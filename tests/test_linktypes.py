"""fastlinks.linktypes: the conventional link types and their helpers."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import INVALID_SPAN_CONTEXT, Link, SpanContext

from fastlinks import LinkSet
from fastlinks import linktypes as lt

CTX = SpanContext(0xA, 0xB, False)


def test_constants():
    assert (lt.FOLLOWS_FROM, lt.CHILD_OF, lt.RETRY, lt.COMPENSATION, lt.BATCH_ITEM, lt.AGGREGATION) == (
        "follows_from",
        "child_of",
        "retry",
        "compensation",
        "batch_item",
        "aggregation",
    )


def test_helpers_set_type_and_meaningful_attributes():
    assert dict(lt.follows_from(CTX, "triggered by upload").attributes) == {
        "link.type": "follows_from",
        "link.reason": "triggered by upload",
    }
    assert dict(lt.retry(CTX, 2).attributes) == {"link.type": "retry", "retry.attempt": 2}
    assert dict(lt.batch_item(CTX, "order-7", 3).attributes) == {
        "link.type": "batch_item",
        "item.id": "order-7",
        "item.index": 3,
    }
    assert dict(lt.compensation(CTX, "payment failed").attributes) == {
        "link.type": "compensation",
        "compensation.reason": "payment failed",
    }
    assert lt.retry(CTX, 1).context is CTX


def test_helpers_take_a_span_and_reject_other_things():
    span = TracerProvider().get_tracer("t").start_span("s")
    assert lt.follows_from(span, "r").context == span.get_span_context()
    with pytest.raises(TypeError, match="SpanContext"):
        lt.retry("ctx", 1)
    with pytest.raises(ValueError, match="attempt"):
        lt.retry(CTX, 0)


def test_from_contexts_skips_invalid_and_indexes_by_input_position():
    links = lt.from_contexts([CTX, INVALID_SPAN_CONTEXT, SpanContext(0xC, 0xD, True)], lt.AGGREGATION)
    assert isinstance(links, LinkSet) and len(links) == 2
    assert [dict(link.attributes) for link in links] == [
        {"link.type": "aggregation", "link.index": 0},
        {"link.type": "aggregation", "link.index": 2},
    ]
    assert len(lt.from_contexts([], lt.AGGREGATION)) == 0


def test_validate_links():
    assert lt.validate_links([Link(CTX), Link(CTX)]) == []
    assert lt.validate_links([Link(CTX), Link(INVALID_SPAN_CONTEXT), Link(CTX)]) == [1]
    ls = LinkSet.from_span_contexts([INVALID_SPAN_CONTEXT, CTX])
    assert lt.validate_links(ls) == [0]
