"""The benchmark cases, shared by `benchmarks/` (pytest-benchmark) and `python -m fastlinks bench`.

Contenders, all measured in the same run:
A. what consumers write today: the propagator per message, one Link each, all given to the SDK;
B. careful hand-written Python: dict dedupe, `heapq.nsmallest` cap, Links only for the kept;
C. a numpy user's version: vectorized hex decode, `np.unique` on a void view, sort-based cap;
D. fastlinks on its pure-Python kernels; E. fastlinks on its compiled kernels.
"""

from __future__ import annotations

import heapq
import statistics
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from . import _core_py, _kernels
from .batch import start_batch_span
from .linkset import LinkSet
from .policy import LinkPolicy
from .processor import LinkProcessor
from .workload import colliding_ids, make_carriers

SIZES = (10, 100, 500, 2000, 10_000)
CAP = 128
CONTENDERS = {
    "A": "propagator+SDK",
    "B": "hand-written",
    "C": "numpy",
    "D": "fastlinks (python)",
    "E": "fastlinks (cython)",
}
_PROPAGATOR = TraceContextTextMapPropagator()
_ZERO = bytes(24)


@dataclass(frozen=True)
class Case:
    """One timed call: `setup()` builds the inputs and returns the call to time."""

    stage: str
    contender: str
    size: int
    setup: Callable[[], Callable[[], Any]]

    @property
    def id(self) -> str:
        return f"{self.stage}-{self.contender}-{self.size}"


# ---------------------------------------------------------------- contenders


def propagator_links(carriers: Sequence[dict[str, str]]) -> list[Link]:
    """A: the propagator per message and one Link per valid context."""
    links = []
    for carrier in carriers:
        context = trace.get_current_span(_PROPAGATOR.extract(carrier)).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    return links


def _careful_parse(value: object) -> tuple[int, int, int] | None:
    if not isinstance(value, str):
        return None
    parts = value.strip(" \t").split("-")
    if len(parts) != 4 or parts[0] != "00" or [len(p) for p in parts[1:]] != [32, 16, 2]:
        return None
    if any(p != p.lower() for p in parts[1:]):
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    return (trace_id, span_id, flags) if trace_id and span_id else None


def careful_links(carriers: Sequence[dict[str, str]], cap: int = CAP) -> list[Link]:
    """B: parse by hand, dedupe with a dict, keep sampled first with `heapq.nsmallest`."""
    seen: dict[tuple[int, int], int] = {}
    for carrier in carriers:
        parsed = _careful_parse(carrier.get("traceparent"))
        if parsed:
            seen.setdefault(parsed[:2], parsed[2])
    kept = heapq.nsmallest(cap, seen.items(), key=lambda item: (not item[1] & 1, hash(item[0])))
    return [Link(SpanContext(t, s, True, TraceFlags(f))) for (t, s), f in kept]


_HEX = np.full(256, -1, np.int16)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16)
_HIGH = np.r_[np.arange(3, 35, 2), np.arange(36, 52, 2), 53]


def _numpy_parse(carriers: Sequence[dict[str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    raw = np.array([c.get("traceparent", "").strip(" \t").encode() for c in carriers], dtype="S56")
    chars = raw.view(np.uint8).reshape(len(carriers), 56)
    nibbles = _HEX[chars]
    ok = (chars[:, 0] == 48) & (chars[:, 1] == 48) & (chars[:, 55] == 0)
    ok &= (chars[:, 2] == 45) & (chars[:, 35] == 45) & (chars[:, 52] == 45)
    ok &= (nibbles[:, _HIGH] >= 0).all(axis=1) & (nibbles[:, _HIGH + 1] >= 0).all(axis=1)
    octets = ((nibbles[:, _HIGH] << 4) | nibbles[:, _HIGH + 1]).astype(np.uint8)
    tids, sids, flags = octets[:, :16], octets[:, 16:24], octets[:, 24]
    ok &= tids.any(axis=1) & sids.any(axis=1)
    return tids, sids, flags, ok


def numpy_select(tids: np.ndarray, sids: np.ndarray, flags: np.ndarray, ok: np.ndarray, cap: int = CAP) -> np.ndarray:
    """C's compaction: unique rows by a void view, then a lexsort on (unsampled, ID) for the cap."""
    rows = np.flatnonzero(ok)
    keys = np.ascontiguousarray(np.concatenate([tids[rows], sids[rows]], axis=1)).view("V24").ravel()
    _, first = np.unique(keys, return_index=True)
    rows = rows[np.sort(first)]
    if len(rows) > cap:
        word = np.ascontiguousarray(tids[rows, 8:]).view(">u8").ravel()
        rows = np.sort(rows[np.lexsort((word, (flags[rows] & 1) == 0))[:cap]])
    return rows


def numpy_links(carriers: Sequence[dict[str, str]], cap: int = CAP) -> list[Link]:
    """C: vectorized parse and selection, then Links for the kept rows."""
    tids, sids, flags, ok = _numpy_parse(carriers)
    return [
        Link(
            SpanContext(
                int.from_bytes(tids[r].tobytes(), "big"),
                int.from_bytes(sids[r].tobytes(), "big"),
                True,
                TraceFlags(int(flags[r])),
            )
        )
        for r in numpy_select(tids, sids, flags, ok, cap).tolist()
    ]


def careful_select(tids: np.ndarray, sids: np.ndarray, flags: np.ndarray, cap: int = CAP) -> list[int]:
    """B's compaction over columns: a dict of first rows, then `heapq.nsmallest` for the cap."""
    ids = np.concatenate([tids, sids], axis=1).tobytes()
    sampled = (flags & 1).tolist()
    seen: dict[bytes, int] = {}
    for i in range(len(flags)):
        key = ids[24 * i : 24 * i + 24]
        if key[:16] != _ZERO[:16] and key[16:] != _ZERO[:8]:
            seen.setdefault(key, i)
    if len(seen) <= cap:
        return sorted(seen.values())
    return sorted(heapq.nsmallest(cap, seen.values(), key=lambda i: (not sampled[i], hash(ids[24 * i : 24 * i + 24]))))


# ---------------------------------------------------------------- cases

_KERNELS: dict[str, ModuleType] = {"D": _core_py}


def _kernels_for(contender: str) -> ModuleType:
    if contender == "E":
        from . import _core

        return _core
    return _KERNELS[contender]


def _processor(contender: str) -> LinkProcessor:
    """A LinkProcessor on that contender's kernels (it binds them when it is made, not per call)."""
    saved, _kernels.core = _kernels.core, _kernels_for(contender)
    try:
        return LinkProcessor()
    finally:
        _kernels.core = saved


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
    kernels = _kernels_for(contender)
    policy = LinkPolicy()

    def fastlinks_ingest() -> list[Link]:
        _kernels.core = kernels
        return list(LinkSet.from_carriers(carriers).compact(policy))

    return fastlinks_ingest


def _parse_compact(contender: str, n: int) -> Callable[[], Any]:
    carriers = make_carriers(n)
    kernels = _kernels_for(contender)
    policy = LinkPolicy()

    def parse_and_compact() -> LinkSet:
        _kernels.core = kernels
        return LinkSet.from_carriers(carriers).compact(policy)

    return parse_and_compact


def _fastlinks_compact(contender: str, columns: LinkSet) -> Callable[[], Any]:
    """D or E: `columns.compact()` on that contender's kernels."""
    kernels = _kernels_for(contender)
    policy = LinkPolicy()

    def fastlinks_compact() -> LinkSet:
        _kernels.core = kernels
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
    """compact() on IDs a hostile producer crafted to collide in the public link hash."""
    tids, sids = colliding_ids(n, same_hash=False)
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
    kernels = _kernels_for(contender)

    def fastlinks_span() -> None:
        _kernels.core = kernels
        start_batch_span(tracer, "batch", carriers).end()
        exporter.clear()

    return fastlinks_span


def _export(contender: str, n: int) -> Callable[[], Any]:
    tracer, exporter = _tracer("D")
    links = LinkSet.from_carriers(
        make_carriers(4 * n), attributes={"link.type": "batch_item", "item.index": list(range(4 * n))}
    ).compact(LinkPolicy(max_links=n))
    tracer.start_span("batch", links=links).end()
    spans = exporter.get_finished_spans()
    if contender == "stock":
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock

        return lambda: stock(spans).SerializeToString()
    from .otlp import encode_spans

    kernels = _kernels_for(contender)

    def fastlinks_encode() -> bytes:
        _kernels.core = kernels
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
    try:
        from . import _core  # noqa: F401
    except ImportError:
        return False
    return True


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
    calls: dict[str, Callable[[], Any]], rounds: int, min_sample: float = 0.002
) -> dict[str, float]:
    """Median time of one call of each, with the samples of all of them taken in turn, so a
    change in the machine's load hits every contender alike: for differences of a few percent."""
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
            start = time.perf_counter()
            for _ in range(loops[name]):
                call()
            samples[name].append((time.perf_counter() - start) / loops[name])
    return {name: statistics.median(values) for name, values in samples.items()}


def run(
    sizes: Sequence[int] = SIZES, rounds: int = 7, progress: Callable[[str], None] | None = None
) -> dict[str, float]:
    """Median seconds per case id, all measured in this one run. The processor-overhead cases
    differ by a few percent, so each size's contenders are sampled in turn, three times as often."""
    saved = _kernels.core
    results = {}
    paired: dict[int, dict[str, Callable[[], Any]]] = {}
    try:
        for case in cases(sizes):
            if case.stage == OVERHEAD:
                paired.setdefault(case.size, {})[case.id] = case.setup()
                continue
            if progress:
                progress(case.id)
            results[case.id] = median_seconds(case.setup(), rounds)
        for n, calls in paired.items():
            if progress:
                progress(f"{OVERHEAD}-{n}")
            results.update(interleaved_medians(calls, 3 * rounds))
    finally:
        _kernels.core = saved
    return results


# ---------------------------------------------------------------- report


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1e6:,.1f} µs" if seconds < 0.01 else f"{seconds * 1e3:,.1f} ms"


def _added(base: float | None, seconds: float | None) -> str:
    return f"{(seconds - base) * 1e6:+.2f} µs" if base and seconds else "—"


def _per_carrier(seconds: float | None, n: int) -> str:
    return f"{seconds / n * 1e9:,.0f} ns" if seconds else "—"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---:" if i else "---" for i in range(len(header))) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def report(results: dict[str, float], memory: dict[str, float], sizes: Sequence[int] = SIZES) -> list[str]:
    """Markdown tables of medians and ratios, then each target shown met or missed."""
    r = results.get

    def t(stage: str, contender: str, n: int) -> float | None:
        return r(f"{stage}-{contender}-{n}")

    def ratio(a: float | None, b: float | None) -> str:
        return f"{a / b:,.1f}×" if a and b else "—"

    names = [f"{k} {v}" for k, v in CONTENDERS.items()]
    lines = ["**ingest**: carriers → compacted, ready-to-use `Link` objects (median per batch)", ""]
    lines += _table(
        ["N", *names, "E vs A", "E vs B", "E vs C"],
        [
            [f"{n:,}", *(_time(t("ingest", c, n)) for c in "ABCDE")]
            + [ratio(t("ingest", c, n), t("ingest", "E", n)) for c in "ABC"]
            for n in sizes
        ],
    )
    lines += ["", "**parse + compact** (no Link objects): carriers → compacted LinkSet", ""]
    lines += _table(
        ["N", "D fastlinks (python)", "E fastlinks (cython)", "E per carrier"],
        [
            [
                f"{n:,}",
                _time(t("parse+compact", "D", n)),
                _time(t("parse+compact", "E", n)),
                _per_carrier(t("parse+compact", "E", n), n),
            ]
            for n in sizes
        ],
    )
    lines += ["", "**compact only**: columns → kept rows", ""]
    lines += _table(
        ["N", *names[1:], "E vs B", "E vs C"],
        [
            [f"{n:,}", *(_time(t("compact", c, n)) for c in "BCDE")]
            + [ratio(t("compact", c, n), t("compact", "E", n)) for c in "BC"]
            for n in sizes
        ],
    )
    lines += [
        "",
        "**compact, crafted IDs**: every row's link hash shares its low 32 bits "
        "(`workload.colliding_ids`), as a hostile producer can arrange",
        "",
    ]
    lines += _table(
        ["N", "C numpy", "D fastlinks (python)", "E fastlinks (cython)", "E vs C", "E crafted / E random IDs"],
        [
            [
                f"{n:,}",
                *(_time(t("compact crafted", c, n)) for c in "CDE"),
                ratio(t("compact crafted", "C", n), t("compact crafted", "E", n)),
                ratio(t("compact crafted", "E", n), t("compact", "E", n)),
            ]
            for n in sizes
        ],
    )
    lines += [
        "",
        "**batch span**: headers → a started and ended SDK span with its links "
        "(`SimpleSpanProcessor(InMemorySpanExporter)`); floor: 128 prebuilt `Link` objects",
        "",
    ]
    lines += _table(
        ["N", *names, "floor", "E vs A", "E / floor"],
        [
            [
                f"{n:,}",
                *(_time(t("batch span", c, n)) for c in ("A", "B", "C", "D", "E", "floor")),
                ratio(t("batch span", "A", n), t("batch span", "E", n)),
                ratio(t("batch span", "E", n), t("batch span", "floor", n)),
            ]
            for n in sizes
        ],
    )
    lines += ["", f"**export**: encode one span with {CAP} links (2 attributes each) and serialize it", ""]
    lines += _table(
        ["stock encoder", "D fastlinks.otlp (python)", "E fastlinks.otlp (cython)", "E vs stock"],
        [
            [
                _time(t("export", "stock", CAP)),
                _time(t("export", "D", CAP)),
                _time(t("export", "E", CAP)),
                ratio(t("export", "stock", CAP), t("export", "E", CAP)),
            ]
        ],
    )
    lines += [
        "",
        f"**{OVERHEAD}**: an ordinary span with N plain, distinct links (nothing to change), started and "
        "ended on a provider with no other processor, without and with `LinkProcessor` (samples interleaved)",
        "",
    ]
    lines += _table(
        ["links", "stock SDK", "+ LinkProcessor (python)", "+ LinkProcessor (cython)", "E added", "E / stock"],
        [
            [
                f"{n:,}",
                *(_time(t(OVERHEAD, c, n)) for c in ("stock", "D", "E")),
                _added(t(OVERHEAD, "stock", n), t(OVERHEAD, "E", n)),
                f"{e / stock:.3f}×" if (e := t(OVERHEAD, "E", n)) and (stock := t(OVERHEAD, "stock", n)) else "—",
            ]
            for n in OVERHEAD_LINKS
        ],
    )
    lines += ["", "**memory** per candidate link (tracemalloc, 10,000 links, no per-row attributes)", ""]
    lines += _table(["LinkSet", "Link objects"], [[f"{memory['LinkSet']:.1f} B", f"{memory['Link objects']:.0f} B"]])
    lines += ["", "**targets**", ""]
    for label, value, goal, met in targets(results, memory, sizes):
        lines.append(f"- {'met' if met else 'MISSED'}: {label}: {value} (target {goal})")
    return lines


def targets(
    results: dict[str, float], memory: dict[str, float], sizes: Sequence[int] = SIZES
) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) for each target the project set itself."""

    def t(key: str) -> float | None:
        return results.get(key)

    out = []

    def ratio_target(label: str, slow: str, fast: str, goal: float) -> None:
        a, b = t(slow), t(fast)
        if a and b:
            out.append((label, f"{a / b:.1f}×", f"≥ {goal:g}×", a / b >= goal))

    for n, goal in ((500, 50), (2000, 100), (10_000, 100)):
        if n in sizes:
            ratio_target(f"ingest E vs A at {n:,}", f"ingest-A-{n}", f"ingest-E-{n}", goal)
    parse_compact = t("parse+compact-E-10000")
    if 10_000 in sizes and parse_compact:
        per = parse_compact / 10_000 * 1e6
        out.append(("parse + compact per carrier at 10,000", f"{per:.3f} µs", "< 0.15 µs", per < 0.15))
    if 10_000 in sizes:
        ratio_target("compact only E vs C at 10,000", "compact-C-10000", "compact-E-10000", 10)
    if 500 in sizes:
        ratio_target("batch span E vs A at 500", "batch span-A-500", "batch span-E-500", 10)
        e, floor = t("batch span-E-500"), t("batch span-floor-500")
        if e and floor:
            out.append(("batch span E at 500 / 128-link floor", f"{e / floor:.2f}×", "≤ 1.2×", e / floor <= 1.2))
    ratio_target("export E vs stock encoder", f"export-stock-{CAP}", f"export-E-{CAP}", 10)
    added = [(e - s) for n in (1, 3, 8) if (e := t(f"{OVERHEAD}-E-{n}")) and (s := t(f"{OVERHEAD}-stock-{n}"))]
    if added:
        worst = max(added) * 1e6
        out.append(("LinkProcessor added to a span with 1-8 links (worst)", f"{worst:+.2f} µs", "≤ 1 µs", worst <= 1))
    e, stock = t(f"{OVERHEAD}-E-128"), t(f"{OVERHEAD}-stock-128")
    if e and stock:
        out.append(("LinkProcessor on a span with 128 links", f"{e / stock:.3f}×", "≤ 1.03×", e / stock <= 1.03))
    out.append(("memory per link as a LinkSet", f"{memory['LinkSet']:.1f} B", "≤ 32 B", memory["LinkSet"] <= 32))
    return out


def plot(results: dict[str, float], path: str, sizes: Sequence[int] = SIZES) -> None:
    """Median time per candidate link against N, for ingest and batch span (matplotlib, the bench extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, stage, contenders in (
        (axes[0], "ingest", "ABCDE"),
        (axes[1], "batch span", ("A", "B", "C", "D", "E", "floor")),
    ):
        for c in contenders:
            xs = [n for n in sizes if f"{stage}-{c}-{n}" in results]
            ys = [results[f"{stage}-{c}-{n}"] / n * 1e6 for n in xs]
            ax.plot(xs, ys, marker="o", label=f"{c} {CONTENDERS.get(c, '128 prebuilt Links')}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("candidate links (messages) per batch")
        ax.set_title(stage)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("µs per candidate link (median)")
    axes[1].legend(fontsize=8)
    fig.suptitle("fastlinks vs the alternatives (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
