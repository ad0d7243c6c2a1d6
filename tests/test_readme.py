"""The README stays true: every Python snippet runs (with `messages` and `provider` fixtures, and
each ``print(x)  # output`` comment checked), and every shell command it shows exists with the
flags it shows; the cheap ones run."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import entry_points, metadata
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
pytestmark = pytest.mark.skipif(not README.exists(), reason="the README is in the source tree only")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)


class Message:
    """What confluent-kafka's consumer returns: `headers()` as (str, bytes) pairs, `key()` as bytes."""

    def __init__(self, headers: list[tuple[str, bytes]], key: bytes) -> None:
        self._headers, self._key = headers, key

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def key(self) -> bytes:
        return self._key


def readme_messages() -> list[Message]:
    """500 messages: 380 producers (half sampled), 95 re-deliveries, 25 malformed traceparents,
    the batch the README's usage example describes."""
    rng = np.random.default_rng(3)
    producers = [
        f"00-{rng.bytes(16).hex()}-{rng.bytes(8).hex()}-{'01' if i % 2 else '00'}".encode() for i in range(380)
    ]
    values = producers + [producers[i] for i in rng.integers(0, 380, 95)] + [b"00-broken"] * 25
    order = rng.permutation(len(values))
    return [Message([("traceparent", values[i])], f"m{n}".encode()) for n, i in enumerate(order)]


def test_python_snippets_run_and_print_what_they_say(monkeypatch):
    from _receiver import Receiver
    from opentelemetry.sdk.trace import TracerProvider

    with Receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
        namespace = {"messages": readme_messages(), "provider": TracerProvider()}
        for snippet in blocks("python"):
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(snippet, str(README), "exec"), namespace)
            said = [line.split("# ", 1)[1].strip() for line in snippet.splitlines() if line.startswith("print(")]
            assert printed.getvalue().splitlines() == said, snippet
        provider = namespace["provider"]  # with the OTLP snippet's exporter added: a span reaches the receiver
        provider.get_tracer("readme").start_span("after the snippets", links=namespace["links"]).end()
        provider.shutdown()
    (request,) = receiver.decoded()
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert len(span.links) == 128 and span.dropped_links_count == 500 - 128


def commands() -> list[list[str]]:
    """Every command of every bash block: continuations joined, comments cut, `&&` split."""
    out = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #", 1)[0].strip()
            for part in line.split("&&"):
                if part.strip():
                    out.append(shlex.split(part))
    return out


EXTRAS = set(metadata("fastlinks").get_all("Provides-Extra") or [])


def check_pip(words: list[str]) -> None:
    for requirement in words[2:]:
        extras = re.findall(r"\[([^]]+)\]", requirement)
        for extra in (e for group in extras for e in group.split(",")):
            assert extra in EXTRAS, f"pip install {requirement}: no extra {extra!r}"


def check_environment_command(words: list[str]) -> None:
    """`NAME=value ... command`: the names fastlinks registers are registered."""
    settings = dict(word.split("=", 1) for word in words if "=" in word and word.split("=")[0].isupper())
    groups = {
        "OTEL_PYTHON_CONFIGURATOR": "opentelemetry_configurator",
        "OTEL_TRACES_EXPORTER": "opentelemetry_traces_exporter",
        "OTEL_TRACES_SAMPLER": "opentelemetry_traces_sampler",
    }
    for name, group in groups.items():
        if name in settings:
            assert settings[name] in {ep.name for ep in entry_points(group=group)}, f"{name}={settings[name]}"


def run(words: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    if words[0] == "python":
        words = [sys.executable, *words[1:]]
    return subprocess.run(words, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180)


def test_shell_commands_exist_with_their_flags():
    from _receiver import Receiver

    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    checked = 0
    with Receiver() as receiver:
        for words in commands():
            if words[0] == "export":  # a Collector's address in the README: point it at our receiver
                name, _ = words[1].split("=", 1)
                environment[name] = receiver.endpoint if name.endswith("ENDPOINT") else _.strip('"')
                continue
            if "=" in words[0]:
                check_environment_command(words)
            elif words[:2] == ["pip", "install"]:
                check_pip(words)
            elif words[:3] == ["python", "-m", "pytest"]:
                pass  # this very run
            elif words[:3] == ["python", "-m", "fastlinks"]:
                words = [os.path.expandvars(w) if "$" not in w else environment[w.strip("$")] for w in words]
                done = run(words, environment)
                assert done.returncode == 0, (words, done.stderr)
            elif words[0] == "python" and words[1].endswith(".py"):
                assert (ROOT / words[1]).exists(), words[1]
                flags = [w for w in words[2:] if w.startswith("--")]
                if flags:
                    help_text = run(["python", words[1], "--help"], environment).stdout
                    assert all(flag in help_text for flag in flags), (words, help_text)
            elif words[0] == "ruff":
                pytest.importorskip("ruff", reason="ruff is in the test extra")
                done = run([sys.executable, "-m", *words], environment)
                assert done.returncode == 0, (words, done.stdout, done.stderr)
            else:
                raise AssertionError(f"a README command this test does not know how to check: {words}")
            checked += 1
    assert checked >= 10


def test_the_fuzz_command_runs_as_written():
    text = README.read_text()
    assert "python fuzz/fuzz_kernels.py -max_total_time=300 fuzz/corpus" in text
    assert (ROOT / "fuzz" / "fuzz_kernels.py").exists() and any((ROOT / "fuzz" / "corpus").iterdir())
