"""Test doubles that ship with the package: the RunComfy emulator and the MP4 writer it serves.

They ship (rather than living under ``tests/``) because ``kling3 demo`` and ``kling3 emulator``
use them on a machine with no token and no network. :mod:`skill.testing.emulator` is the API;
:mod:`skill.testing.mp4writer` writes the tiny H.264 MP4s it hands out. :mod:`skill.media`
does not import them (only a lazy alias keeps the writer's old names in ``mp4probe``).
"""

__all__: list[str] = []
