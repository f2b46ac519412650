"""How the HTTP clients are built and shared: a verifying TLS context only once https is spoken,
and one connection pool for a whole batch's API calls and downloads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from skill.execution.batch import run_batch
from skill.execution.client import AsyncRunComfyClient
from skill.execution.journal import Journal
from skill.execution.transport import client_tls, uses_tls
from skill.testing.emulator import Emulator

pytestmark = pytest.mark.usefixtures("home")

# Counts every verifying context Python builds (httpx's and anyone's) in a fresh interpreter.
_SPY = (
    "import ssl, sys\n"
    "built = []\n"
    "_real = ssl.create_default_context\n"
    "def _spy(*a, **k):\n"
    "    built.append(1)\n"
    "    return _real(*a, **k)\n"
    "ssl.create_default_context = _spy\n"
)


def _built(code: str, *args: str) -> int:
    proc = subprocess.run([sys.executable, "-c", _SPY + code + "\nprint('BUILT', len(built))\n", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, "PYDANTIC_DISABLE_PLUGINS": "__all__"})
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.rsplit("BUILT", 1)[1])


def test_a_whole_run_against_the_http_emulator_builds_no_tls_context(tmp_path: Path) -> None:
    code = (
        "import asyncio\n"
        "from pathlib import Path\n"
        "from skill.execution.client import AsyncRunComfyClient, RunComfyClient\n"
        "from skill.execution.flow import arun, run\n"
        "from skill.execution.journal import Journal\n"
        "base, token, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])\n"
        "with Journal(out / 'j.sqlite3') as jr:\n"
        "    with RunComfyClient(base_url=base, token=token) as c:\n"
        "        assert run('a kite, 5 seconds', client=c, journal=jr, poll_interval=0.02,\n"
        "                   output_dir=out / 'a').files\n"
        "    async def go():\n"
        "        async with AsyncRunComfyClient(base_url=base, token=token) as c:\n"
        "            return await arun('a kite, 5 seconds', client=c, journal=jr, poll_interval=0.02,\n"
        "                              output_dir=out / 'b')\n"
        "    assert asyncio.run(go()).files\n"
    )
    with Emulator() as emu:
        assert _built(code, emu.base_url, emu.token, str(tmp_path)) == 0
        assert emu.counts["download"] == 2  # both runs really fetched their video


def test_an_https_base_builds_the_context_and_so_does_https_from_a_plain_client() -> None:
    """The probe can see a context being built: for an https base at once, and for a plain-http
    client at its first https request (here to a closed loopback port, so nothing answers)."""
    at_once = (
        "from skill.execution.client import RunComfyClient\n"
        "RunComfyClient(base_url='https://127.0.0.1:9/v1', token='t').download_http()\n"
    )
    assert _built(at_once) == 1
    on_demand = (
        "import httpx\n"
        "from skill.execution.client import RunComfyClient\n"
        "c = RunComfyClient(base_url='http://127.0.0.1:9/v1', token='t').download_http()\n"
        "assert len(built) == 0\n"
        "try:\n"
        "    c.get('https://127.0.0.1:9/file.mp4')\n"
        "except httpx.ConnectError:\n"
        "    pass\n"
    )
    assert _built(on_demand) == 1


def test_a_plain_client_keeps_verifying_https() -> None:
    """The bare context of plain-http clients is never the one https uses."""
    assert uses_tls("https://model-api.runcomfy.net/v1") and not uses_tls("http://127.0.0.1:1/v1")
    plain = client_tls("http://127.0.0.1:1/v1", asynchronous=False)
    assert set(plain) == {"verify", "mounts"} and set(plain["mounts"]) == {"https://"}
    secure = client_tls("https://model-api.runcomfy.net/v1", asynchronous=True)
    assert secure["verify"].verify_mode.name == "CERT_REQUIRED" and secure["verify"].check_hostname


class _Counting(httpx.AsyncBaseTransport):
    """A real HTTP transport that counts the requests it carries, by kind."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen["download" if request.url.path.startswith("/files/") else "api"] += 1
        assert "authorization" not in request.headers or not request.url.path.startswith("/files/")
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_batch_fetches_every_output_through_its_api_clients_pool(
    make_emulator: Callable[..., Emulator], journal: Journal, tmp_path: Path
) -> None:
    emu = make_emulator(queue_seconds=0.05, run_seconds=0.05)
    counting = _Counting()

    async def go() -> list[str]:
        async with httpx.AsyncClient(transport=counting) as http, AsyncRunComfyClient(
            base_url=emu.base_url, token=emu.token, http=http
        ) as client:
            report = await run_batch([{"text": f"a kite number {n}, 5 seconds"} for n in range(4)],
                                     client=client, journal=journal, concurrency=2,
                                     poll_interval=0.02, output_dir=tmp_path / "out")
            return [i.status for i in report.items]

    assert asyncio.run(go()) == ["completed"] * 4
    assert counting.seen["download"] == 4 == emu.counts["download"]
    assert emu.download_saw_auth is False


_CLI_PROBE = (
    "import sys\n"
    "{first}\n"
    "import httpx\n"
    "assert callable(httpx.Client) and callable(httpx.AsyncClient)\n"
    "print(sorted(m for m in ('httpx._main', 'click', 'rich', 'pygments') if sys.modules.get(m) is not None))\n"
)


def _cli_modules(first: str) -> str:
    proc = subprocess.run([sys.executable, "-c", _CLI_PROBE.format(first=first)], capture_output=True, text=True,
                          timeout=60, check=True)
    return proc.stdout.strip()


def test_the_http_stack_comes_without_the_httpx_command_line_tool() -> None:
    """httpx imports its CLI (click, rich, pygments) whenever they are installed; kling3 never
    runs it, so importing the client leaves it out (and httpx itself works)."""
    assert _cli_modules("import skill.execution.client") == "[]"
    assert _cli_modules("import skill.execution.downloads, skill.execution.delivery") == "[]"


def test_without_kling3_first_httpx_does_import_its_command_line_tool() -> None:
    """The probe above can fail: a bare ``import httpx`` here loads the CLI."""
    try:
        import click  # noqa: F401
        import pygments  # noqa: F401
        import rich  # noqa: F401
    except ImportError:
        pytest.skip("httpx's CLI extras are not installed here")
    assert "httpx._main" in _cli_modules("pass")
