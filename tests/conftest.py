"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from skill.emulator import Emulator, EmulatorConfig

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
