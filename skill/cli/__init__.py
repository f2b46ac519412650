"""The ``kling3`` command line (``skill.cli:main`` is the console script's entry point).

The package holds one module per command group (``plan``, ``run``, ``jobs``, ``account``,
``serve``), the shared flags (``flags``), the output (``render``), the ``plan --batch`` worker
pool (``plan_batch``) and the entry point with its exit codes (``app``).
"""

from __future__ import annotations

from skill.cli.app import main

__all__ = ["main"]
