"""The benchmark report: markdown tables of medians and ratios, the targets met or missed, a plot."""

from __future__ import annotations

from collections.abc import Sequence

from bench import CAP, CONTENDERS, OVERHEAD, OVERHEAD_LINKS, SIZES, SPILL, SPILL_SIZES
from matrix import GOALS, MATRIX_SIZES, WORKLOADS
from matrix import stage as matrix_stage
from shapes import SHAPES, SHAPES_SIZE
from shapes import stage as shapes_stage


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
        "**compact, crafted IDs**: every row's deduplication-table hash shares its top 32 bits, so all "
        "land in one slot (`tests/_attacks.table_colliding_ids`), as a hostile producer can arrange",
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
    lines += [
        "",
        f"**{SPILL}**: every distinct link reaching the exporter: the propagator per message and one span "
        'with every link (the SDK\'s cap lifted) against `start_batch_span(..., overflow="spill")`',
        "",
    ]
    lines += _table(
        ["N", "stock: one span, cap lifted", "D fastlinks spill (python)", "E fastlinks spill (cython)", "E vs stock"],
        [
            [
                f"{n:,}",
                *(_time(t(SPILL, c, n)) for c in ("stock", "D", "E")),
                ratio(t(SPILL, "stock", n), t(SPILL, "E", n)),
            ]
            for n in SPILL_SIZES
            if n in sizes
        ],
    )
    lines += matrix_table(results, sizes)
    lines += shapes_table(results, sizes)
    lines += ["", "**memory** per candidate link (tracemalloc, 10,000 links, no per-row attributes)", ""]
    lines += _table(["LinkSet", "Link objects"], [[f"{memory['LinkSet']:.1f} B", f"{memory['Link objects']:.0f} B"]])
    lines += ["", "**targets**", ""]
    for label, value, goal, met in targets(results, memory, sizes):
        lines.append(f"- {'met' if met else 'MISSED'}: {label}: {value} (target {goal})")
    return lines


def matrix_targets(results: dict[str, float], sizes: Sequence[int] = SIZES) -> list[tuple[str, str, str, bool]]:
    """(what, measured, target, met) for the ingest matrix at each size: its worst cell."""
    out = []
    for n in (n for n in MATRIX_SIZES if n in sizes):
        cells = []
        for workload in WORKLOADS:
            name = matrix_stage(*workload)
            a, e = results.get(f"{name}-A-{n}"), results.get(f"{name}-E-{n}")
            if a and e:
                cells.append((a / e, name))
        if cells:
            worst, where = min(cells)
            label = f"ingest matrix E vs A at {n:,}, worst cell ({where.removeprefix('matrix ')})"
            out.append((label, f"{worst:.1f}×", f"≥ {GOALS[n]}×", worst >= GOALS[n]))
    return out


def matrix_table(results: dict[str, float], sizes: Sequence[int] = SIZES) -> list[str]:
    """The ingest matrix: a row per workload shape, A, E and E vs A at each size."""
    shown = [n for n in MATRIX_SIZES if n in sizes]
    lines = [
        "",
        "**ingest matrix**: the ingest stage in every shape of batch (`benchmarks/matrix.py`): W3C or B3 "
        "multi-header contexts, a per-trace `tracestate` on no header or on every one, link attributes shared "
        "(`messaging.system`) or per link as well (`messaging.message.id`); A is that format's official "
        "propagator per message and one `Link` each with the same attributes",
        "",
    ]
    header = ["headers", "tracestate", "attributes"]
    for n in shown:
        header += [f"A {n:,}", f"E {n:,}", f"E vs A {n:,}"]
    rows = []
    for fmt, state, attrs in WORKLOADS:
        name = matrix_stage(fmt, state, attrs)
        row = ["W3C" if fmt == "tracecontext" else "B3 multi", "all" if state else "none", attrs]
        for n in shown:
            a, e = results.get(f"{name}-A-{n}"), results.get(f"{name}-E-{n}")
            row += [_time(a), _time(e), f"{a / e:,.1f}×" if a and e else "—"]
        rows.append(row)
    return lines + _table(header, rows)


def shapes_table(results: dict[str, float], sizes: Sequence[int] = SIZES) -> list[str]:
    """Client shapes: a row per shape of message, A, E and E vs A."""
    if SHAPES_SIZE not in sizes:
        return []
    lines = [
        "",
        f"**client shapes**: ingest of {SHAPES_SIZE:,} messages as clients deliver them (`benchmarks/shapes.py`): "
        "a header dict, confluent-kafka's list of (str, bytes) pairs, whole boto3 SQS messages (the context in "
        "`MessageAttributes`), a message type fastlinks does not read itself (shaped as google-cloud-pubsub's, "
        "read through a `Getter`, `getter=`); W3C with a tracestate; A is the propagator per message with a getter "
        "over that shape, as the instrumentations read it, and one `Link` each",
        "",
    ]
    rows = []
    for shape in SHAPES:
        a, e = (results.get(f"{shapes_stage(shape)}-{c}-{SHAPES_SIZE}") for c in "AE")
        rows.append([_SHAPE_NAMES[shape], _time(a), _time(e), f"{a / e:,.1f}×" if a and e else "—"])
    return lines + _table(["messages", "A", "E", "E vs A"], rows)


_SHAPE_NAMES = {
    "dict": "header dict",
    "kafka": "Kafka (str, bytes) pairs",
    "sqs": "SQS messages (boto3)",
    "getter": "own message type, through a getter",
}


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
    out += matrix_targets(results, sizes)
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
    if 10_000 in sizes:
        ratio_target("keep all E vs stock at 10,000", f"{SPILL}-stock-10000", f"{SPILL}-E-10000", 5)
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
