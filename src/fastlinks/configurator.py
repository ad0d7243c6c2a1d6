"""Zero-code setup: ``OTEL_PYTHON_CONFIGURATOR=fastlinks opentelemetry-instrument python app.py``.

The SDK's own configurator sets everything up from the `OTEL_*` variables (exporters, sampler,
resource, propagators); this one does exactly that, with the SDK's link cap lifted while the
tracer provider is made, and then adds `LinkProcessor` with fastlinks' cap, so the policy (not
the SDK's keep-the-last) chooses which links stay. A configurator rather than a distro: a
distro only sets defaults before the SDK is built, and the processor must be added to the
provider the configurator builds.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from . import _otel_compat as compat
from .policy import LinkPolicy
from .processor import LinkProcessor

_SDK_CAP = "OTEL_SPAN_LINK_COUNT_LIMIT"
logger = logging.getLogger("fastlinks")


@contextmanager
def _environment(name: str, value: str) -> Any:
    """`name` set to `value` for the block only, as it was before afterwards."""
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def sdk_link_cap(policy: LinkPolicy) -> int:
    """What the SDK's cap is lifted to: far above fastlinks' own, so the policy chooses, yet
    bounded, since a span that adds links one by one holds them all until it ends."""
    return max(10_000, 8 * policy.link_limit)


class FastlinksConfigurator(compat.sdk_configurator()):  # type: ignore[misc]
    """The SDK's configurator plus `LinkProcessor`: entry point ``fastlinks`` in the
    `opentelemetry_configurator` group."""

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get("OTEL_PYTHON_CONFIGURATOR", "").strip() != "fastlinks":
            # Picked only because its entry point came first (`opentelemetry-instrument` takes the
            # first configurator when none is named): set up exactly what the SDK's does, so that
            # installing fastlinks changes nothing until it is asked for.
            logger.info(
                "fastlinks: configuring the SDK as its own configurator does; "
                "OTEL_PYTHON_CONFIGURATOR=fastlinks adds LinkProcessor"
            )
            super()._configure(**kwargs)
            return
        try:
            policy = LinkPolicy()  # FASTLINKS_LINK_LIMIT, else the user's OTEL_SPAN_LINK_COUNT_LIMIT, else 128
        except Exception as error:  # a malformed limit variable: the stock setup, said once
            compat.log_once("fastlinks configurator (link limits)", error)
            super()._configure(**kwargs)
            return
        with _environment(_SDK_CAP, str(sdk_link_cap(policy))):
            super()._configure(**kwargs)
        provider = trace.get_tracer_provider()
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(LinkProcessor(policy))
        else:
            compat.log_once(
                "fastlinks configurator", TypeError(f"no SDK TracerProvider, got {type(provider).__name__}")
            )
