"""benchmarks/paired.py: another build's compiled kernels load beside this one's, and each pair
calls a case once on each, with this build's kernels bound again afterwards."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from fastlinks import _kernels

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not (ROOT / "benchmarks").exists(), reason="the benchmarks are in the source tree only")


@pytest.fixture
def paired():
    if _kernels.IMPLEMENTATION != "cython":
        pytest.skip("times the compiled kernels")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import paired as module

    yield module
    _kernels.use("cython")


def test_a_copy_of_this_build_is_timed_against_it(paired, tmp_path):
    current = {key: vars(_kernels)[key] for key in _kernels._NAMES}
    for key, name in _kernels._NAMES.items():  # a second build: this one's files at another path
        built = Path(current[key].__file__)
        copy = tmp_path.joinpath(*name.split(".")).with_name(built.name)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(built, copy)
    baseline = paired.load_kernels(tmp_path)
    for key in current:
        assert baseline[key] is not current[key] and baseline[key].__file__.startswith(str(tmp_path))

    (case,) = [c for c in paired.bench.cases((500,)) if c.id == "matrix b3multi shared-E-500"]
    seen = []
    original = case.setup

    def setup():
        call = original()

        def spy():
            seen.append(vars(_kernels)["parse"])
            return call()

        return spy

    base, ours = paired.pairs(paired.bench.Case(case.stage, case.contender, case.size, setup), baseline, 4)
    assert len(base) == len(ours) == 4 and min(base + ours) > 0
    timed = seen[-8:]  # after a first call on each side, the eight timed calls: each side on its own kernels
    assert timed.count(baseline["parse"]) == timed.count(current["parse"]) == 4
    assert all(vars(_kernels)[key] is current[key] for key in current)  # and this build is bound again
    (line,) = paired.report([case], baseline, 3)[-1:]
    assert line.startswith("| matrix b3multi shared N=500 |")


def test_a_missing_build_is_named(paired, tmp_path):
    with pytest.raises(SystemExit, match=r"no compiled fastlinks\._parse"):
        paired.load_kernels(tmp_path)
