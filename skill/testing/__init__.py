"""Test doubles that ship with the package: the RunComfy emulator and the MP4 writer it serves.

They ship (rather than living under ``tests/``) because ``kling3 demo`` and ``kling3 emulator``
use them on a machine with no token and no network.
"""
