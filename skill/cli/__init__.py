"""The ``kling3`` command line (``skill.cli:main`` is the console script's entry point).

The package holds one module per command group (``plan``, ``run``, ``jobs``, ``account``,
``serve``), the shared flags (``flags``), the output (``render``), the ``plan --batch`` worker
pool (``plan_batch``) and the entry point with its exit codes (``app``).
"""

from __future__ import annotations

from skill import startup_cache

startup_cache.warm_regexes()  # before the imports below compile their patterns

from skill.cli.app import main  # noqa: E402

__all__ = ["main"]
