"""`_hex.h` compiled on its own, once per decoder path, against Python's reading of the digits.

Needs a C compiler and the source tree (the header is not in the wheel): skipped otherwise."""

from __future__ import annotations

import platform
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEADER_DIR = ROOT / "src" / "fastlinks"
DRIVER = Path(__file__).resolve().parent / "c" / "hex_driver.c"
VALID = b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
HEX = set(b"0123456789abcdef")

PATHS = {"default": [], "swar": ["-DFASTLINKS_SWAR"]}
if platform.machine().lower() in ("x86_64", "amd64"):
    PATHS["sse2"] = ["-DFASTLINKS_SSE2"]


def expected(record: bytes) -> str:
    digits = record[3:35] + record[36:52]
    if not set(digits) <= HEX:
        return "0"
    return "1 " + digits.decode()


def records() -> list[bytes]:
    """Every byte value at every digit position, and random mutations of a valid value."""
    out = [VALID]
    for position in [*range(3, 35), *range(36, 52)]:
        for value in range(256):
            out.append(VALID[:position] + bytes([value]) + VALID[position + 1 :])
    rng = random.Random(5)
    for _ in range(2000):
        record = bytearray(VALID)
        for _ in range(rng.randint(1, 4)):
            record[rng.randrange(55)] = rng.choice([rng.randrange(256), *b"0af9AFgG/:`"])
        out.append(bytes(record))
    return out


ANY_VALID = b"0aF7651916Cd43dD"
ANY_HEX = set(b"0123456789abcdefABCDEF")


def any_records() -> list[bytes]:
    """For fl_hex16_any: every byte value at every position of a mixed-case value, and mutations."""
    out = [ANY_VALID, ANY_VALID.upper(), ANY_VALID.lower()]
    for position in range(16):
        for value in range(256):
            out.append(ANY_VALID[:position] + bytes([value]) + ANY_VALID[position + 1 :])
    rng = random.Random(6)
    for _ in range(2000):
        out.append(bytes(rng.choice([rng.randrange(256), *b"0af9AFgGzZ@[`{/:"]) for _ in range(16)))
    return out


def any_expected(record: bytes) -> str:
    return "1 " + record.decode().lower() if set(record) <= ANY_HEX else "0"


def _driver(path: str, tmp_path: Path) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None or not (HEADER_DIR / "_hex.h").exists():
        pytest.skip("needs a C compiler and the source tree")
    binary = tmp_path / "hex_driver"
    build = [compiler, "-O2", "-Wall", "-Werror", *PATHS[path], f"-I{HEADER_DIR}", str(DRIVER), "-o", str(binary)]
    subprocess.run(build, check=True, capture_output=True)
    return binary


@pytest.mark.parametrize("path", list(PATHS))
def test_either_case_digits_decode_as_python_reads_them(path, tmp_path):
    batch = any_records()
    done = subprocess.run([str(_driver(path, tmp_path)), "any"], input=b"".join(batch), capture_output=True, check=True)
    *lines, _ = done.stdout.decode().splitlines()
    assert lines == [any_expected(record) for record in batch]


@pytest.mark.parametrize("path", list(PATHS))
def test_the_header_alone_decodes_as_python_reads_the_digits(path, tmp_path):
    binary = _driver(path, tmp_path)
    batch = records()
    done = subprocess.run([str(binary)], input=b"".join(batch), capture_output=True, check=True)
    *lines, decoder = done.stdout.decode().splitlines()
    assert decoder.split()[1] in ({"default": "vector", "swar": "swar", "sse2": "sse2"}[path], "swar")
    assert lines == [expected(record) for record in batch]
