"""LinkPolicy: which links a span keeps, and CompactionStats: what compaction did."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, NamedTuple

Strategy = Literal["first", "last", "random", "consistent"]
STRATEGIES: tuple[str, ...] = ("first", "last", "random", "consistent")
_DEFAULT_LIMIT = 128  # the SDK's own default for links per span and attributes per link


class _Counts(NamedTuple):
    input: int
    invalid: int
    duplicates: int
    over_limit: int
    kept: int


class CompactionStats(_Counts):
    """Counts of one compaction; ``input == invalid + duplicates + over_limit + kept`` always:
    counts that break it (or are not non-negative ints) raise ValueError naming the field."""

    __slots__ = ()

    def __new__(cls, input: int, invalid: int, duplicates: int, over_limit: int, kept: int) -> CompactionStats:
        counts = (input, invalid, duplicates, over_limit, kept)
        if (
            type(input) is type(invalid) is type(duplicates) is type(over_limit) is type(kept) is int
            and invalid >= 0
            and duplicates >= 0
            and over_limit >= 0
            and kept >= 0
            and input == invalid + duplicates + over_limit + kept
        ):  # the common case, checked without a loop or a call: one of these is built per compaction
            return tuple.__new__(cls, counts)
        for name, value in zip(_Counts._fields, counts, strict=True):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"CompactionStats.{name} must be an int, got {type(value).__name__}")
            if value < 0:
                raise ValueError(f"CompactionStats.{name} must be >= 0, got {value}")
        if input != invalid + duplicates + over_limit + kept:
            raise ValueError(
                f"CompactionStats: input ({input}) must equal invalid + duplicates + over_limit + kept "
                f"({invalid} + {duplicates} + {over_limit} + {kept})"
            )
        return super().__new__(cls, *(int(value) for value in counts))

    @classmethod
    def _counted(cls, input: int, invalid: int, duplicates: int, over_limit: int, kept: int) -> CompactionStats:
        """What a compaction kernel counted: ints of its own making, never negative, so only their
        sum is checked (a third of the constructor's time, once per compaction)."""
        if input != invalid + duplicates + over_limit + kept:
            return cls(input, invalid, duplicates, over_limit, kept)  # raises, naming the counts
        return tuple.__new__(cls, (input, invalid, duplicates, over_limit, kept))

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> CompactionStats:  # type: ignore[override]
        return cls(*iterable)

    def _replace(self, **changes: int) -> CompactionStats:
        return type(self)(**{**self._asdict(), **changes})

    @property
    def dropped(self) -> int:
        """Everything compaction removed: what a span reports as dropped links."""
        return self.input - self.kept

    def plus(self, other: CompactionStats) -> CompactionStats:
        """Field by field: the counts of two compactions of disjoint inputs, taken together."""
        return CompactionStats(*(a + b for a, b in zip(self, other, strict=True)))


def _env_limit(names: tuple[str, ...]) -> int | None:
    """The first of `names` holding a positive integer; a set but malformed one is an error."""
    for name in names:
        raw = os.environ.get(name, "").strip()
        if not raw:
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
        if value > 0:
            return value
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    return None


def _check_count(name: str, value: object) -> int:
    """A cap as a plain int; one beyond any possible batch (2**64, say) means no cap at all."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"LinkPolicy.{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"LinkPolicy.{name} must be >= 0, got {value}")
    return min(int(value), sys.maxsize)


@dataclass(frozen=True)
class LinkPolicy:
    """How `LinkSet.compact()` and `LinkProcessor` choose links: validate, dedupe, prefer sampled, cap.

    ``max_links=None`` reads FASTLINKS_LINK_LIMIT, then OTEL_SPAN_LINK_COUNT_LIMIT, else 128;
    ``max_attributes_per_link=None`` reads OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, else 128.
    ``record_counts`` puts what compaction did on batch spans as `fastlinks.links.*` attributes.
    """

    max_links: int | None = None
    dedupe: bool = True
    strategy: Strategy = "consistent"
    prefer_sampled: bool = True
    seed: int | None = None
    max_attributes_per_link: int | None = None
    keep_invalid_with_attributes: bool = False
    record_counts: bool = True
    _resolved: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        links = self.max_links
        if links is None:
            links = _env_limit(("FASTLINKS_LINK_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT")) or _DEFAULT_LIMIT
        attrs = self.max_attributes_per_link
        if attrs is None:
            attrs = _env_limit(("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",)) or _DEFAULT_LIMIT
        strategy = next((name for name in STRATEGIES if isinstance(self.strategy, str) and self.strategy == name), None)
        if strategy is None:
            raise ValueError(f"LinkPolicy.strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        object.__setattr__(self, "strategy", strategy)  # the plain str, whatever str subclass or Enum came in
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**64
        ):
            raise ValueError(f"LinkPolicy.seed must be None or an int in [0, 2**64), got {self.seed!r}")
        for name in ("dedupe", "prefer_sampled", "keep_invalid_with_attributes", "record_counts"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"LinkPolicy.{name} must be a bool, got {type(getattr(self, name)).__name__}")
        object.__setattr__(
            self, "_resolved", (_check_count("max_links", links), _check_count("max_attributes_per_link", attrs))
        )

    @property
    def link_limit(self) -> int:
        """The cap in force: `max_links`, or what the environment gave when it was None."""
        return self._resolved[0]

    @property
    def attribute_limit(self) -> int:
        """The per-link attribute cap in force."""
        return self._resolved[1]


_ENVIRONMENT = ("FASTLINKS_LINK_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT")


def default_policy() -> LinkPolicy:
    """`LinkPolicy()` for the environment as it is now; built again only when a limit variable changes."""
    return _policy_for(tuple(os.environ.get(name) for name in _ENVIRONMENT))


@lru_cache(maxsize=8)
def _policy_for(environment: tuple[str | None, ...]) -> LinkPolicy:
    return LinkPolicy()
