"""benchmarks/bench.py's runner: samples taken in turn, each after a call of its own contender
when asked (`warm`), and a matrix cell's A and E timed together for their ratio."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from fastlinks import _kernels

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (ROOT / "benchmarks").exists(), reason="the benchmarks are in the source tree only")


@pytest.fixture
def bench():
    saved = _kernels.IMPLEMENTATION
    if str(ROOT / "benchmarks") not in sys.path:
        sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench as module

    yield module
    _kernels.use(saved)  # type: ignore[arg-type]


@pytest.mark.parametrize("warm", [False, True])
def test_samples_are_taken_in_turn_each_after_a_call_of_its_own_when_warm(bench, warm):
    calls: list[str] = []
    contenders = {name: (lambda name=name: calls.append(name)) for name in "ab"}
    medians = bench.interleaved_medians(contenders, rounds=2, min_sample=0.0, warm=warm)
    assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())
    calibration, sampled = calls[:4], calls[4:]
    assert calibration == ["a", "a", "b", "b"]  # one call each, then one timed loop of one call
    assert sampled == (["a", "a", "b", "b"] * 2 if warm else ["a", "b"] * 2)


def test_a_matrix_cell_is_timed_alone_when_asked_for(bench):
    cell = bench.matrix_stage("tracecontext", False, "shared")
    results = bench.run((500,), rounds=1, stages={cell})
    ours = "E" if bench._compiled() else "D"
    assert set(results) == {f"{cell}-A-500", f"{cell}-{ours}-500"}
    assert all(seconds > 0 for seconds in results.values())


def test_a_matrix_cell_runs_on_its_own_kernels_whatever_was_timed_after_it(bench, monkeypatch):
    cell = bench.matrix_stage("tracecontext", False, "shared")
    chosen = [c for c in bench.cases((500,)) if c.stage == cell or (c.stage, c.contender) == ("compact", "D")]
    chosen.sort(key=lambda case: case.stage != cell)  # the cell first, a case on the pure kernels after it
    monkeypatch.setattr(bench, "cases", lambda sizes: chosen)
    bound_when_timed = []
    timed = bench.interleaved_medians

    def recording(calls, *args, **kwargs):
        bound_when_timed.append(_kernels.IMPLEMENTATION)
        return timed(calls, *args, **kwargs)

    monkeypatch.setattr(bench, "interleaved_medians", recording)
    bench.run((500,), rounds=1)
    assert bound_when_timed == [bench.IMPLEMENTATION["E" if bench._compiled() else "D"]]


@pytest.mark.parametrize("other", [["--plot", "chart.png"], ["--instructions"]])
def test_the_matrix_alone_is_not_taken_with_a_whole_run_option(bench, other, capsys):
    import run

    with pytest.raises(SystemExit) as exit_:
        run.main(["--matrix", *other])
    assert exit_.value.code == 2 and "--matrix times the matrix alone" in capsys.readouterr().err
