"""LinkPolicy: which links a span keeps, and CompactionStats: what compaction did."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, NamedTuple

Strategy = Literal["first", "last", "random", "consistent"]
STRATEGIES: tuple[str, ...] = ("first", "last", "random", "consistent")
_DEFAULT_LIMIT = 128  # the SDK's own default for links per span and attributes per link


class CompactionStats(NamedTuple):
    """Counts of one compaction; ``input == invalid + duplicates + over_limit + kept`` always."""

    input: int
    invalid: int
    duplicates: int
    over_limit: int
    kept: int

    @property
    def dropped(self) -> int:
        """Everything compaction removed: what a span reports as dropped links."""
        return self.input - self.kept


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
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"LinkPolicy.{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"LinkPolicy.{name} must be >= 0, got {value}")
    return value


@dataclass(frozen=True)
class LinkPolicy:
    """How `LinkSet.compact()` and `LinkProcessor` choose links: validate, dedupe, prefer sampled, cap.

    ``max_links=None`` reads FASTLINKS_LINK_LIMIT, then OTEL_SPAN_LINK_COUNT_LIMIT, else 128;
    ``max_attributes_per_link=None`` reads OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, else 128.
    """

    max_links: int | None = None
    dedupe: bool = True
    strategy: Strategy = "consistent"
    prefer_sampled: bool = True
    seed: int | None = None
    max_attributes_per_link: int | None = None
    keep_invalid_with_attributes: bool = False
    _resolved: tuple[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        links = self.max_links
        if links is None:
            links = _env_limit(("FASTLINKS_LINK_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT")) or _DEFAULT_LIMIT
        attrs = self.max_attributes_per_link
        if attrs is None:
            attrs = _env_limit(("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",)) or _DEFAULT_LIMIT
        if self.strategy not in STRATEGIES:
            raise ValueError(f"LinkPolicy.strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**64
        ):
            raise ValueError(f"LinkPolicy.seed must be None or an int in [0, 2**64), got {self.seed!r}")
        for name in ("dedupe", "prefer_sampled", "keep_invalid_with_attributes"):
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
