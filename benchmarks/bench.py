"""The benchmark cases, shared by `python -m pytest benchmarks/` (pytest-benchmark) and
`python benchmarks/run.py` (one run, a table of medians and ratios, and a plot).

Contenders, all measured in the same run: A, B and C as `contenders.py` writes them;
D. fastlinks on its pure-Python kernels; E. fastlinks on its compiled kernels.
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from _attacks import table_colliding_ids  # tests/_attacks.py: on sys.path through benchmarks/conftest.py or run.py
from contenders import CAP, careful_links, careful_select, numpy_links, numpy_select, propagator_links
from matrix import MATRIX_SIZES, WORKLOADS
from matrix import build as matrix_case
from matrix import stage as matrix_stage
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags
from shapes import SHAPES, SHAPES_SIZE
from shapes import build as shapes_case
from shapes import stage as shapes_stage

from fastlinks import LinkPolicy, LinkProcessor, LinkSet, PerRow, _kernels, start_batch_span
from fastlinks.demo import make_carriers

SIZES = (10, 100, 500, 2000, 10_000)
CONTENDERS = {
    "A": "propagator+SDK",
    "B": "hand-written",
    "C": "numpy",
    "D": "fastlinks (python)",
    "E": "fastlinks (cython)",
}


@dataclass(frozen=True)
class Case:
    """One timed call: `setup()` builds the inputs and returns the call to time, which runs on
    `kernels` ("cython" or "python": bind them with `bound()` first; nothing is switched inside
    the timed call)."""

    stage: str
    contender: str
    size: int
    setup: Callable[[], Callable[[], Any]]

    @property
    def kernels(self) -> str:
        return IMPLEMENTATION.get(self.contender, "cython" if _compiled() else "python")

    def bound(self) -> Callable[[], Any]:
        """Bind this case's kernels, then build and return its call."""
        _kernels.use(self.kernels)  # type: ignore[arg-type]
        return self.setup()

    @property
    def id(self) -> str:
        return f"{self.stage}-{self.contender}-{self.size}"


# ---------------------------------------------------------------- cases

IMPLEMENTATION = {"D": "python", "E": "cython"}  # the kernels each fastlinks contender runs on


def _processor(contender: str) -> LinkProcessor:
    """A LinkProcessor on that contender's kernels (it binds them when it is made, not per call)."""
    saved = _kernels.IMPLEMENTATION
    _kernels.use(IMPLEMENTATION[contender])  # type: ignore[arg-type]
    try:
        return LinkProcessor()
    finally:
        _kernels.use(saved)  # type: ignore[arg-type]


def _tracer(contender: str | None, export: bool = True) -> tuple[trace.Tracer, InMemorySpanExporter]:
    """A tracer with LinkProcessor on `contender`'s kernels (none for None), exporting to memory."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    if contender is not None:
        provider.add_span_processor(_processor(contender))
    if export:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("fastlinks.bench"), exporter


def _ingest(contender: str, n: int) -> Callable[[], Any]:
    carriers = make_carriers(n)
    if contender == "A":
        return lambda: propagator_links(carriers)
    if contender == "B":
        return lambda: careful_links(carriers)
    if contender == "C":
        return lambda: numpy_links(carriers)
    policy = LinkPolicy()

    def fastlinks_ingest() -> list[Link]:
        return list(LinkSet.from_carriers(carriers).compact(policy))

    return fastlinks_ingest


def _parse_compact(contender: str, n: int) -> Callable[[], Any]:
    carriers = make_carriers(n)
    policy = LinkPolicy()

    def parse_and_compact() -> LinkSet:
        return LinkSet.from_carriers(carriers).compact(policy)

    return parse_and_compact


def _fastlinks_compact(contender: str, columns: LinkSet) -> Callable[[], Any]:
    """D or E: `columns.compact()` on that contender's kernels."""
    policy = LinkPolicy()

    def fastlinks_compact() -> LinkSet:
        return columns.compact(policy)

    return fastlinks_compact


def _compact(contender: str, n: int) -> Callable[[], Any]:
    columns = LinkSet.from_carriers(make_carriers(n))
    tids, sids, flags = columns.trace_ids, columns.span_ids, columns.trace_flags
    if contender == "B":
        return lambda: careful_select(tids, sids, flags)
    if contender == "C":
        ok = columns.valid
        return lambda: numpy_select(tids, sids, flags, ok)
    return _fastlinks_compact(contender, columns)


def _crafted(contender: str, n: int) -> Callable[[], Any]:
    """compact() on IDs a hostile producer crafted to land in one slot of the deduplication table."""
    tids, sids = table_colliding_ids(n, same_hash=False)
    flags = np.ones(n, np.uint8)
    if contender == "C":
        ok = np.ones(n, bool)
        return lambda: numpy_select(tids, sids, flags, ok)
    columns = LinkSet.from_arrays(tids, sids, flags)
    return _fastlinks_compact(contender, columns)


def _batch_span(contender: str, n: int) -> Callable[[], Any]:
    carriers = make_carriers(n)
    tracer, exporter = _tracer(contender if contender in ("D", "E") else None)
    if contender == "floor":
        prebuilt = careful_links(make_carriers(max(n, 4 * CAP)))[:CAP]

        def floor() -> None:
            tracer.start_span("batch", links=prebuilt).end()
            exporter.clear()

        return floor
    if contender in ("A", "B", "C"):
        build = {"A": propagator_links, "B": careful_links, "C": numpy_links}[contender]

        def by_hand() -> None:
            tracer.start_span("batch", links=build(carriers)).end()
            exporter.clear()

        return by_hand

    def fastlinks_span() -> None:
        start_batch_span(tracer, "batch", carriers).end()
        exporter.clear()

    return fastlinks_span


SPILL = "keep all"
SPILL_SIZES = (2000, 10_000)


def _keep_all(contender: str, n: int) -> Callable[[], Any]:
    """Every distinct link reaching the exporter. `stock`: the propagator per message, one Link
    each, one span holding them all (the SDK's cap lifted, no deduplication); D/E: fastlinks'
    batch span plus overflow spans (`overflow="spill"`)."""
    carriers = make_carriers(n)
    exporter = InMemorySpanExporter()
    if contender == "stock":
        provider = TracerProvider(span_limits=SpanLimits(max_links=n))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("fastlinks.bench")

        def stock() -> None:
            tracer.start_span("batch", links=propagator_links(carriers)).end()
            exporter.clear()

        return stock
    tracer, exporter = _tracer(contender)

    def spill() -> None:
        start_batch_span(tracer, "batch", carriers, overflow="spill").end()
        exporter.clear()

    return spill


def _export(contender: str, n: int) -> Callable[[], Any]:
    tracer, exporter = _tracer("D")
    links = LinkSet.from_carriers(
        make_carriers(4 * n), attributes={"link.type": "batch_item", "item.index": PerRow(range(4 * n))}
    ).compact(LinkPolicy(max_links=n))
    tracer.start_span("batch", links=links).end()
    spans = exporter.get_finished_spans()
    if contender == "stock":
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock

        return lambda: stock(spans).SerializeToString()
    from fastlinks.otlp import encode_spans

    def fastlinks_encode() -> bytes:
        return encode_spans(spans).SerializeToString()

    return fastlinks_encode


OVERHEAD_LINKS = (0, 1, 3, 8, 128)  # links per ordinary span: most have 0-3


def _overhead(contender: str, n: int) -> Callable[[], Any]:
    """An ordinary span with `n` plain links (one attribute each, all valid and distinct, so the
    processor changes nothing) started and ended on a provider with no other processor:
    `stock` without LinkProcessor, D/E with it on that contender's kernels."""
    links = [
        Link(SpanContext(0xA000 + i, 0xB000 + i, True, TraceFlags(i % 2)), {"message.id": f"m{i}"}) for i in range(n)
    ]
    tracer, _ = _tracer(None if contender == "stock" else contender, export=False)
    return lambda: tracer.start_span("ordinary", links=links).end()


def _case(stage: str, contender: str, size: int, build: Callable[[str, int], Callable[[], Any]]) -> Case:
    return Case(stage, contender, size, lambda: build(contender, size))


def _compiled() -> bool:
    return _kernels._compiled() is not None


def cases(sizes: Sequence[int] = SIZES) -> list[Case]:
    """Every timed case: stage x contender x size (no E where the compiled kernels are not built)."""
    ours = "DE" if _compiled() else "D"
    out = []
    for n in sizes:
        out += [_case("ingest", c, n, _ingest) for c in "ABC" + ours]
        out += [_case("parse+compact", c, n, _parse_compact) for c in ours]
        out += [_case("compact", c, n, _compact) for c in "BC" + ours]
        out += [_case("compact crafted", c, n, _crafted) for c in "C" + ours]
        out += [_case("batch span", c, n, _batch_span) for c in ("A", "B", "C", *ours, "floor")]
    out += [_case("export", c, CAP, _export) for c in ("stock", *ours)]
    out += [_case(OVERHEAD, c, n, _overhead) for n in OVERHEAD_LINKS for c in ("stock", *ours)]
    out += [_case(SPILL, c, n, _keep_all) for n in SPILL_SIZES if n in sizes for c in ("stock", *ours)]
    for fmt, state, attrs in WORKLOADS:  # the ingest matrix: A and E in every shape of workload
        name = matrix_stage(fmt, state, attrs)
        for n in (n for n in MATRIX_SIZES if n in sizes):
            out += [
                Case(name, c, n, lambda c=c, n=n, w=(fmt, state, attrs): matrix_case(*w, c, n))
                for c in ("A", "E" if _compiled() else "D")
            ]
    for shape in SHAPES if SHAPES_SIZE in sizes else ():  # client shapes: A and E on messages as delivered
        out += [
            Case(shapes_stage(shape), c, SHAPES_SIZE, lambda c=c, s=shape: shapes_case(s, c, SHAPES_SIZE))
            for c in ("A", "E" if _compiled() else "D")
        ]
    return out


OVERHEAD = "processor overhead"


# ---------------------------------------------------------------- memory


def bytes_per_link(n: int = 10_000) -> dict[str, float]:
    """Bytes held per candidate link: as a LinkSet's columns vs as a list of Link objects."""
    carriers = make_carriers(n, duplicates=0.0, malformed=0.0)
    out = {}
    for label, build in (("LinkSet", LinkSet.from_carriers), ("Link objects", propagator_links)):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        held = build(carriers)
        out[label] = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
        del held
    return out


# ---------------------------------------------------------------- runner


def median_seconds(call: Callable[[], Any], rounds: int = 7, min_sample: float = 0.002) -> float:
    """Median time of one call over `rounds` samples, each long enough to time well."""
    call()
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            call()
        if time.perf_counter() - start >= min_sample or loops >= 100_000:
            break
        loops *= 2
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            call()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def interleaved_medians(
    calls: dict[str, Callable[[], Any]], rounds: int, min_sample: float = 0.002, warm: bool = False
) -> dict[str, float]:
    """Median time of one call of each, with the samples of all of them taken in turn, so a
    change in the machine's load hits every contender alike: for differences of a few percent,
    and for ratios on a machine whose speed moves from one second to the next. With `warm` each
    sample follows one call of its own contender, not timed: no call is timed in the heap the
    other contender just left (at 10,000 carriers A builds and frees some 100,000 objects)."""
    loops = {}
    for name, call in calls.items():
        call()
        loops[name] = 1
        while True:
            start = time.perf_counter()
            for _ in range(loops[name]):
                call()
            if time.perf_counter() - start >= min_sample or loops[name] >= 100_000:
                break
            loops[name] *= 2
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            if warm:
                call()
            start = time.perf_counter()
            for _ in range(loops[name]):
                call()
            samples[name].append((time.perf_counter() - start) / loops[name])
    return {name: statistics.median(values) for name, values in samples.items()}


MATRIX_STAGES = frozenset(matrix_stage(*workload) for workload in WORKLOADS)


def run(
    sizes: Sequence[int] = SIZES,
    rounds: int = 7,
    progress: Callable[[str], None] | None = None,
    stages: Collection[str] | None = None,
) -> dict[str, float]:
    """Median seconds per case id (of `stages`, default all), all measured in this one run. The
    processor-overhead cases differ by a few percent, so each size's contenders are sampled in
    turn, three times as often. A matrix cell's A and E are sampled in turn, each sample after a
    call not timed (`interleaved_medians`' `warm`): their ratio is the target, and timed minutes
    apart on this machine A alone moved by 2x. Every other case is timed alone."""
    saved = _kernels.IMPLEMENTATION
    results = {}
    paired: dict[int, dict[str, Callable[[], Any]]] = {}
    cells: dict[tuple[str, int], list[Case]] = {}
    try:
        for case in cases(sizes):
            if stages is not None and case.stage not in stages:
                continue
            if case.stage == OVERHEAD:  # each contender's processor bound its kernels when it was made
                paired.setdefault(case.size, {})[case.id] = case.setup()
                continue
            if case.stage in MATRIX_STAGES:
                cells.setdefault((case.stage, case.size), []).append(case)
                continue
            if progress:
                progress(case.id)
            results[case.id] = median_seconds(case.bound(), rounds)
        for (stage, n), group in cells.items():
            if progress:
                progress(f"{stage}-{n}")
            calls = {case.id: case.bound() for case in group}  # A, then E binding its kernels for both
            results.update(interleaved_medians(calls, rounds, warm=True))
        for n, calls in paired.items():
            if progress:
                progress(f"{OVERHEAD}-{n}")
            results.update(interleaved_medians(calls, 3 * rounds))
    finally:
        _kernels.use(saved)  # type: ignore[arg-type]
    return results
