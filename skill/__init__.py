"""kling3-skill: plan, price and run Kling 3.0 video generations on the RunComfy Model API."""

from __future__ import annotations

__version__ = "0.1.0"
