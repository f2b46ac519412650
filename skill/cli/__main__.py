"""``python -m skill.cli``: the same as the ``kling3`` script, for environments without it."""

from __future__ import annotations

from skill.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    raise SystemExit(main())
