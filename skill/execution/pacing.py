"""How fast the Model API may be polled: at least one second between status polls of a job on a
real API (the official CLI's floor), whatever ``--poll-interval`` says; a loopback API (the
emulator, tests) may be polled as fast as asked.

Loopback is judged from the base URL as written (``localhost`` or a loopback IP address), never
from DNS, so a remote API cannot pass for a local one.
"""

from __future__ import annotations

import functools
import ipaddress
from urllib.parse import urlsplit

__all__ = ["LOOPBACK_MIN_POLL_S", "MIN_POLL_INTERVAL_S", "is_loopback_url", "poll_floor"]

MIN_POLL_INTERVAL_S = 1.0
"""Seconds between two status polls of one job on a non-loopback API."""
LOOPBACK_MIN_POLL_S = 0.01
"""The floor on loopback: enough to keep a typo (``--poll-interval 0``) from spinning a core."""


@functools.lru_cache(maxsize=64)
def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is ``localhost`` or a loopback IP literal (remembered per URL: a
    batch asks it about the same base before every status poll)."""
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def poll_floor(base_url: str) -> float:
    """The shortest wait allowed between status polls against ``base_url``."""
    return LOOPBACK_MIN_POLL_S if is_loopback_url(base_url) else MIN_POLL_INTERVAL_S
