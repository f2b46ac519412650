"""exit_now: the process ends with the code, the at-exit handlers and every byte written, or it
returns and leaves the exit to the interpreter (another thread alive, a stream that cannot flush)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_script(body: str, tmp_path: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import atexit, sys, threading
        from pathlib import Path
        from skill.cli.quick_exit import exit_now
        MARK = Path(sys.argv[1])
        atexit.register(lambda: MARK.write_text("atexit ran"))
        """
    ) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script, str(tmp_path / "mark")], capture_output=True,
                          text=True, timeout=60, check=False, **kwargs)  # type: ignore[call-overload]


def test_exit_now_keeps_the_code_the_atexit_handlers_and_unflushed_output(tmp_path: Path) -> None:
    r = run_script(
        """
        sys.stdout.write("x" * 100_000)  # buffered, no newline: only a flush writes it
        sys.stderr.write("to stderr")
        exit_now(7)
        print("not reached")
        """,
        tmp_path,
    )
    assert r.returncode == 7
    assert r.stdout == "x" * 100_000 and r.stderr == "to stderr"
    assert (tmp_path / "mark").read_text() == "atexit ran"


def test_exit_now_returns_while_another_thread_is_alive(tmp_path: Path) -> None:
    r = run_script(
        """
        done = threading.Event()
        t = threading.Thread(target=done.wait)
        t.start()
        exit_now(3)
        print("returned")
        done.set()
        t.join()
        sys.exit(4)
        """,
        tmp_path,
    )
    assert (r.returncode, r.stdout) == (4, "returned\n")
    assert (tmp_path / "mark").read_text() == "atexit ran"  # the ordinary exit ran the handler


def test_exit_now_returns_for_a_code_os_exit_cannot_carry(tmp_path: Path) -> None:
    r = run_script('exit_now(300)\nprint("returned")\nsys.exit(5)\n', tmp_path)
    assert (r.returncode, r.stdout) == (5, "returned\n")


def test_exit_now_leaves_a_stream_that_cannot_flush_to_the_ordinary_exit(tmp_path: Path) -> None:
    r = run_script(
        """
        import io

        class Gone(io.StringIO):
            def flush(self) -> None:
                raise BrokenPipeError(32, "Broken pipe")

        sys.stdout = Gone()
        exit_now(0)
        sys.stderr.write("returned")
        """,
        tmp_path,
    )
    assert r.stderr.startswith("returned")
    assert r.returncode == 120  # Python's own code for an exit whose final flush failed
    assert (tmp_path / "mark").read_text() == "atexit ran"
