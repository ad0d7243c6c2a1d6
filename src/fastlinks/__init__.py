"""fastlinks: OpenTelemetry span links at scale — columnar link sets with compiled kernels."""

from ._attributes import PerRow
from ._kernels import IMPLEMENTATION
from .batch import start_as_current_batch_span, start_batch_span
from .buffer import LinkBuffer
from .linkset import CompactedLinkSet, LinkSet
from .policy import CompactionStats, LinkPolicy
from .processor import LinkProcessor
from .sampling import LinkAwareSampler

__all__ = [
    "IMPLEMENTATION",
    "CompactedLinkSet",
    "CompactionStats",
    "LinkAwareSampler",
    "LinkBuffer",
    "LinkPolicy",
    "LinkProcessor",
    "LinkSet",
    "PerRow",
    "start_as_current_batch_span",
    "start_batch_span",
]
__version__ = "0.1.0"
