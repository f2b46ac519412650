"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from skill.testing.emulator import Emulator, EmulatorConfig


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite away from the developer's journal, token and the real API.

    Every test (and every subprocess it starts) sees a private KLING3_HOME and RunComfy config
    dir, a dummy token, and an API base on a closed loopback port, so a test that forgets to
    point at the emulator fails instead of spending money. Tests set their own values on top.
    """
    import os
    import tempfile

    root = tempfile.mkdtemp(prefix="kling3-tests-")
    os.environ["KLING3_HOME"] = os.path.join(root, "home")
    os.environ["RUNCOMFY_CONFIG_DIR"] = os.path.join(root, "runcomfy")
    os.environ["RUNCOMFY_MODEL_API_BASE"] = "http://127.0.0.1:9/v1"
    os.environ["RUNCOMFY_WEB_BASE"] = "http://127.0.0.1:9"
    os.environ["RUNCOMFY_TOKEN"] = "test-token-not-real"
    for name in ("KLING3_DAILY_CAP_USD", "KLING3_RULES", "KLING3_TEMPLATES", "KLING3_MAX_DOWNLOAD_BYTES"):
        os.environ.pop(name, None)

# Jobs finish in ~0.1 s so client tests stay fast; pass other timings to make_emulator when a
# test needs to catch a job while queued or running.
FAST_TIMINGS: dict[str, Any] = {"queue_seconds": 0.05, "run_seconds": 0.05}


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Factory: ``make_emulator(**EmulatorConfig kwargs)`` -> a started emulator, stopped at teardown."""
    started: list[Emulator] = []

    def factory(**kwargs: Any) -> Emulator:
        emu = Emulator(EmulatorConfig(**{**FAST_TIMINGS, **kwargs})).start()
        started.append(emu)
        return emu

    yield factory
    for emu in started:
        emu.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A running emulator with the default config and fast job timings."""
    return make_emulator()
