"""Run the real ``kling3`` on a pseudo-terminal, as a person at a terminal does, and read the screen."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

from clihelp import kling3_cmd

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7]|4[0-8]|10[0-7])(?:;[0-9;]*)?m")
"""An SGR sequence that sets a foreground or background colour (bold alone is not a colour)."""


@dataclass
class Screen:
    code: int
    raw: str
    """Everything written to the terminal (stdout and stderr share it), escapes included."""

    @property
    def text(self) -> str:
        return ANSI.sub("", self.raw).replace("\r", "")


def run_on_pty(*args: str, env: dict[str, str], columns: int = 120, rows: int = 40, timeout: float = 60) -> Screen:
    """Run ``kling3 ARGS`` with stdin, stdout and stderr on one pty of the given size."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows), **env}
    proc = subprocess.Popen([*kling3_cmd(), *args], stdin=slave, stdout=slave, stderr=slave, env=full_env,
                            close_fds=True, start_new_session=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return Screen(code, b"".join(chunks).decode("utf-8", "replace"))
