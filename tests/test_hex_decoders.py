"""Every way the compiled parser can decode trace and span IDs agrees with the pure twin.

`_parse.pyx` (through `_hex.h`) decodes hex digits 16 at a time with vector instructions (GCC/Clang vector
extensions, or SSE2 intrinsics under MSVC) and 8 at a time in a 64-bit word elsewhere.
`.ci/run` also builds with -DFASTLINKS_SSE2 and -DFASTLINKS_SWAR and runs this file with
FASTLINKS_EXPECT_HEX_DECODER naming the path, so each one is checked on every CI run.
"""

from __future__ import annotations

import os

import numpy as np
from _budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SETTINGS = settings(
    max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def parsed(kernels, values):
    tids, sids, flags, remote, _ = kernels.parse_traceparents(values)
    return tids.tobytes(), sids.tobytes(), flags.tobytes(), remote.tobytes()


def test_the_build_uses_the_expected_decoder(both):
    compiled, _ = both
    expected = os.environ.get("FASTLINKS_EXPECT_HEX_DECODER")
    assert compiled.HEX_DECODER == expected if expected else compiled.HEX_DECODER in ("vector", "sse2", "swar")


def test_every_single_character_change_is_judged_alike(both):
    """All 256 byte values (and a wide character) at each of the 55 positions, as str and bytes."""
    compiled, pure = both
    values = [VALID[:i] + chr(c) + VALID[i + 1 :] for i in range(len(VALID)) for c in [*range(256), 0x1F600]]
    values += [v.encode("latin-1") for v in values if max(v) < "\u0100"]
    got = parsed(compiled, values)
    assert got == parsed(pure, values)
    tids = np.frombuffer(got[0], np.uint8).reshape(-1, 16)
    assert 0 < np.count_nonzero(tids.any(axis=1)) < len(values)  # some changes keep it valid, most do not


@SETTINGS
@given(
    ids=st.binary(min_size=24, max_size=24),
    flags=st.integers(0, 255),
    changes=st.lists(st.tuples(st.integers(0, 54), st.characters(max_codepoint=0x2FF)), max_size=3),
)
def test_random_ids_with_a_few_changes_are_judged_alike(both, ids, flags, changes):
    compiled, pure = both
    chars = list(f"00-{ids[:16].hex()}-{ids[16:].hex()}-{flags:02x}")
    for at, c in changes:
        chars[at] = c
    value = "".join(chars)
    got = parsed(compiled, [value])
    assert got == parsed(pure, [value])
    if not changes and any(ids[:16]) and any(ids[16:]):
        assert got[:3] == (ids[:16], ids[16:], bytes([flags]))
