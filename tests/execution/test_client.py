"""The Model API client against the emulator, over real sockets: happy paths, error mapping,
retries that are safe, and the submit that is never repeated."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skill import __version__
from skill.errors import (
    ApiClientError,
    ApiServerError,
    AuthError,
    InputError,
    SubmitUnconfirmed,
    TransientError,
)
from skill.execution.client import (
    AsyncRunComfyClient,
    JobResult,
    JobStatus,
    RetryPolicy,
    RunComfyClient,
)
from skill.testing.emulator import Emulator, Fault

T2V = "kling/kling-3.0/standard/text-to-video"
I2V = "kling/kling-3.0/standard/image-to-video"
BODY: dict[str, Any] = {"prompt": "a red fox in the snow", "duration": 4, "aspect_ratio": "1:1"}
FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.004, max_retry_after=1.0)
SECRET = "rc_live_s3cr3t-T0KEN-value"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

MakeEmulator = Callable[..., Emulator]


class Clients:
    """Builds sync clients bound to an emulator, retrying fast; records every backoff sleep."""

    def __init__(self, api_client: Callable[..., RunComfyClient]) -> None:
        self.sleeps: list[float] = []
        self._api_client = api_client

    def __call__(self, emu: Emulator, **kw: Any) -> RunComfyClient:
        kw.setdefault("retry", FAST)
        kw.setdefault("timeout", 5.0)
        return self._api_client(emu, sleep=self.sleeps.append, **kw)


@pytest.fixture
def clients(api_client: Callable[..., RunComfyClient]) -> Clients:
    """Sync clients closed at teardown by the shared ``api_client`` factory."""
    return Clients(api_client)


def _async_client(emu: Emulator, sleeps: list[float], **kw: Any) -> AsyncRunComfyClient:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    kw.setdefault("base_url", emu.base_url)
    kw.setdefault("token", emu.token)
    kw.setdefault("retry", FAST)
    kw.setdefault("timeout", 5.0)
    return AsyncRunComfyClient(sleep=sleep, **kw)


def _wait(client: RunComfyClient, rid: str, timeout: float = 5.0) -> list[JobStatus]:
    seen: list[JobStatus] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(client.status(rid))
        if seen[-1].status not in ("in_queue", "in_progress"):
            return seen
        time.sleep(0.02)
    raise AssertionError("job did not finish")


async def _await(client: AsyncRunComfyClient, rid: str, timeout: float = 5.0) -> list[JobStatus]:
    seen: list[JobStatus] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(await client.status(rid))
        if seen[-1].status not in ("in_queue", "in_progress"):
            return seen
        await asyncio.sleep(0.02)
    raise AssertionError("job did not finish")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- happy paths ---------------------------------------------------------------------------------


def _summary(
    statuses: list[JobStatus], result: JobResult, outcome: str, rid: str, origin: str
) -> dict[str, Any]:
    return {
        "known": {s.status for s in statuses} <= {"in_queue", "in_progress", "completed"},
        "last": statuses[-1].status,
        "result": (result.status, result.done, result.failed, result.cancelled),
        "output": {
            k: v.replace(rid, "RID").replace(origin, "ORIGIN")
            for k, v in (result.output or {}).items()
        },
        "cancel": outcome,
    }


def test_submit_status_result_cancel(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(queue_seconds=0.1, run_seconds=0.1, queue_position=3)
    client = clients(emu)
    sub = client.submit(T2V, BODY)
    rid = sub.request_id
    assert sub.status_url == f"{emu.base_url}/requests/{rid}/status"
    assert sub.result_url == f"{emu.base_url}/requests/{rid}/result"
    assert sub.cancel_url == f"{emu.base_url}/requests/{rid}/cancel"
    assert sub.raw["request_id"] == rid
    assert emu.job(rid)["body"] == BODY
    headers = emu.last_headers("submit")
    assert headers["authorization"] == f"Bearer {emu.token}"
    assert headers["accept"] == "application/json"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"kling3-skill/{__version__}"

    statuses = _wait(client, rid)
    assert statuses[0].status == "in_queue" and statuses[0].queue_position in (1, 2, 3)
    assert statuses[-1].status == "completed" and statuses[-1].queue_position is None
    result = client.result(rid)
    assert (result.status, result.done, result.failed, result.cancelled) == (
        "succeeded",
        True,
        False,
        False,
    )
    assert result.output == {"video": f"{emu.origin}/files/{rid}/output.mp4"}
    assert result.error is None

    outcome = client.cancel(rid)
    assert (outcome.request_id, outcome.outcome, outcome.status) == (
        rid,
        "not_cancellable",
        "completed",
    )
    assert emu.counts["submit"] == 1


def test_sync_and_async_give_the_same_answers(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(queue_seconds=0.08, run_seconds=0.08)
    client = clients(emu)
    sub = client.submit(T2V, BODY)
    statuses = _wait(client, sub.request_id)
    sync = _summary(
        statuses,
        client.result(sub.request_id),
        client.cancel(sub.request_id).outcome,
        sub.request_id,
        emu.origin,
    )
    sync_schema = client.model_schema(T2V)

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        async with _async_client(emu, []) as aclient:
            asub = await aclient.submit(T2V, BODY)
            astatuses = await _await(aclient, asub.request_id)
            summary = _summary(
                astatuses,
                await aclient.result(asub.request_id),
                (await aclient.cancel(asub.request_id)).outcome,
                asub.request_id,
                emu.origin,
            )
            return summary, await aclient.model_schema(T2V)

    async_summary, async_schema = asyncio.run(run())
    assert async_summary == sync
    assert async_schema == sync_schema
    assert sync_schema["model_id"] == T2V and "prompt" in sync_schema["input_schema"]["properties"]
    assert emu.counts["submit"] == 2


def test_cancel_while_queued(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(queue_seconds=30)
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    outcome = client.cancel(rid)
    assert (outcome.outcome, outcome.status) == ("cancelled", "cancelled")
    assert emu.last_headers("cancel").get("content-length", "0") == "0"
    assert client.status(rid).status == "cancelled"
    assert client.result(rid).cancelled


def test_failed_job_result_carries_the_error(make_emulator: MakeEmulator, clients: Clients) -> None:
    error = {"code": "content_policy", "message": "prompt rejected"}
    emu = make_emulator(fail_job=error)
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    assert _wait(client, rid)[-1].status == "failed"
    result = client.result(rid)
    assert result.failed and not result.done and result.output is None
    assert result.error == error


def test_unfinished_result_reports_its_status(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(queue_seconds=30)
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    result = client.result(rid)
    assert result.status == "in_queue" and not (result.done or result.failed or result.cancelled)


def test_unknown_status_is_passed_through(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(
        faults=[
            Fault(route="status", status=200, body={"request_id": UNKNOWN_ID, "status": "Paused"})
        ]
    )
    status = clients(emu).status(UNKNOWN_ID)
    assert (status.status, status.queue_position) == ("paused", None)


# -- input checks before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize("rid", ["", "../x", "a/b", "a b", "x" * 129, "id?x=1", "é"])
def test_bad_request_id_is_refused_before_sending(
    emulator: Emulator, clients: Clients, rid: str
) -> None:
    client = clients(emulator)
    for call in (client.status, client.result, client.cancel):
        with pytest.raises(InputError) as err:
            call(rid)
        assert err.value.code == "bad_request_id"
    assert sum(emulator.counts.values()) == 0


@pytest.mark.parametrize("model", ["kling", "kling/../x", "kling//x", "kling/x?y", "/kling/x"])
def test_bad_model_id_is_refused_before_sending(
    emulator: Emulator, clients: Clients, model: str
) -> None:
    with pytest.raises(InputError) as err:
        clients(emulator).submit(model, {"prompt": "x"})
    assert err.value.code == "bad_model_id"
    assert emulator.counts["submit"] == 0


def test_payload_must_be_a_json_object(emulator: Emulator, clients: Clients) -> None:
    client = clients(emulator)
    with pytest.raises(InputError):
        client.submit(T2V, ["prompt"])  # type: ignore[arg-type]
    with pytest.raises(InputError):
        client.submit(T2V, {"prompt": "x", "cfg_scale": float("nan")})
    assert emulator.counts["submit"] == 0


def test_no_token_fails_at_first_call_not_construction(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNCOMFY_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("RUNCOMFY_TOKEN", raising=False)
    client = RunComfyClient(base_url=emulator.base_url)
    with pytest.raises(AuthError) as err:
        client.status(UNKNOWN_ID)
    assert err.value.code == "not_signed_in"
    assert sum(emulator.counts.values()) == 0
    monkeypatch.setenv("RUNCOMFY_TOKEN", emulator.token)
    with pytest.raises(ApiClientError):
        client.status(UNKNOWN_ID)
    client.close()


# -- error mapping ---------------------------------------------------------------------------------


def test_bad_token_is_auth_error_and_never_echoed(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    echo = {"error_code": 400004, "error_message": f"token {SECRET} was revoked"}
    emu = make_emulator(faults=[Fault(route="status", status=401, body=echo)])
    client = clients(emu, token=SECRET)
    with pytest.raises(AuthError) as err:
        client.submit(T2V, {"prompt": "x"})
    assert (err.value.code, err.value.exit_code) == ("auth_rejected", 77)
    with pytest.raises(AuthError) as echoed:
        client.status(UNKNOWN_ID)
    assert "revoked" in str(echoed.value)
    for exc in (err.value, echoed.value):
        text = f"{exc} {exc!r} {exc.to_dict()} {exc.args}"
        assert SECRET not in text
    assert SECRET not in repr(client)
    assert emu.counts["submit"] == 1 and emu.jobs() == []


def test_a_token_that_cannot_be_sent_is_refused_without_echo(
    emulator: Emulator, clients: Clients
) -> None:
    bad = SECRET + "\nX-Injected: 1"
    with pytest.raises(AuthError) as err:
        clients(emulator, token=bad).status(UNKNOWN_ID)
    assert err.value.code == "invalid_token"
    assert SECRET not in f"{err.value} {err.value!r}"
    assert sum(emulator.counts.values()) == 0


def test_403_is_permission_denied(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(faults=[Fault(route="result", status=403)])
    with pytest.raises(AuthError) as err:
        clients(emu).result(UNKNOWN_ID)
    assert err.value.code == "permission_denied"
    assert emu.counts["result"] == 1


def test_402_is_insufficient_balance(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(no_balance=True)
    with pytest.raises(ApiClientError) as err:
        clients(emu).submit(T2V, {"prompt": "x"})
    assert (err.value.code, err.value.exit_code, err.value.status) == (
        "insufficient_balance",
        65,
        402,
    )
    assert "balance" in err.value.message
    assert emu.counts["submit"] == 1 and emu.jobs() == []


@pytest.mark.parametrize("http_status", [200, 400])
def test_error_code_400002_is_insufficient_balance_whatever_the_status(
    make_emulator: MakeEmulator, clients: Clients, http_status: int
) -> None:
    body = {"error_code": 400002, "error_message": "InsufficientResources"}
    emu = make_emulator(faults=[Fault(route="submit", status=http_status, body=body)])
    with pytest.raises(ApiClientError) as err:
        clients(emu).submit(T2V, {"prompt": "x"})
    assert err.value.code == "insufficient_balance" and "balance" in err.value.message
    assert err.value.details["http_status"] == http_status


def test_http_200_with_error_code_is_an_error(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    body = {"error_code": 404001, "error_message": "ResourceNotFound"}
    emu = make_emulator(faults=[Fault(route="status", status=200, body=body)])
    with pytest.raises(ApiClientError) as err:
        clients(emu).status(UNKNOWN_ID)
    assert err.value.code == "not_found" and "ResourceNotFound" in err.value.message


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        (T2V, {"prompt": "x", "duration": 99}, "duration"),
        (T2V, {"prompt": "x", "aspect_ratio": "4:3"}, "aspect_ratio"),
        (I2V, {"prompt": "x"}, "start_image_url"),
    ],
)
def test_422_names_the_field(
    emulator: Emulator, clients: Clients, model: str, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ApiClientError) as err:
        clients(emulator).submit(model, body)
    assert (err.value.code, err.value.status, err.value.field) == ("api_rejected_input", 422, field)
    assert field in err.value.message
    assert err.value.details["fields"][0] == field
    assert emulator.counts["submit"] == 1


def test_long_error_bodies_are_truncated(make_emulator: MakeEmulator, clients: Clients) -> None:
    body = {"error_code": 500, "error_message": "x" * 5000}
    emu = make_emulator(faults=[Fault(route="schema", status=500, body=body, times=0)])
    with pytest.raises(ApiServerError) as err:
        clients(emu).model_schema(T2V)
    assert err.value.code == "api_unavailable" and err.value.exit_code == 69
    assert len(err.value.message) < 500


@pytest.mark.parametrize("route", ["status", "result", "cancel"])
def test_unknown_request_is_not_found(emulator: Emulator, clients: Clients, route: str) -> None:
    client = clients(emulator)
    with pytest.raises(ApiClientError) as err:
        getattr(client, route)(UNKNOWN_ID)
    assert (err.value.code, err.value.status, err.value.request_id) == (
        "not_found",
        404,
        UNKNOWN_ID,
    )
    assert emulator.counts[route] == 1
    assert clients.sleeps == []


def test_unknown_model_is_not_found(emulator: Emulator, clients: Clients) -> None:
    with pytest.raises(ApiClientError) as err:
        clients(emulator).model_schema("kling/kling-9.9/x")
    assert err.value.code == "not_found"


# -- retries on reads ----------------------------------------------------------------------------------


def test_429_without_retry_after_is_retried_with_backoff(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=429, on_call=1, times=2)])
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    assert client.status(rid).request_id == rid
    assert emu.counts["status"] == 3
    assert len(clients.sleeps) == 2 and all(0 <= s <= FAST.max_delay for s in clients.sleeps)


def test_429_with_retry_after_waits_that_long(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=429, retry_after=0.25)])
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    assert client.status(rid).status in ("in_queue", "in_progress", "completed")
    assert emu.counts["status"] == 2
    assert clients.sleeps == [0.25]


def test_retry_after_beyond_the_limit_gives_up_at_once(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=429, retry_after=600)])
    with pytest.raises(TransientError) as err:
        clients(emu).status(UNKNOWN_ID)
    assert (err.value.code, err.value.exit_code) == ("rate_limited", 75)
    assert err.value.details["retry_after_s"] == 600
    assert "600" in err.value.message
    assert emu.counts["status"] == 1 and clients.sleeps == []


def test_429_that_persists_becomes_rate_limited(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=429, times=0)])
    with pytest.raises(TransientError) as err:
        clients(emu).status(UNKNOWN_ID)
    assert err.value.code == "rate_limited"
    assert emu.counts["status"] == FAST.attempts
    assert len(clients.sleeps) == FAST.attempts - 1


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408])
def test_server_errors_on_the_nth_status_call_are_retried(
    make_emulator: MakeEmulator, clients: Clients, code: int
) -> None:
    emu = make_emulator(faults=[Fault(route="status", status=code, on_call=2, times=2)])
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    client.status(rid)
    assert emu.counts["status"] == 1
    assert client.status(rid).request_id == rid
    assert emu.counts["status"] == 4
    assert len(clients.sleeps) == 2


def test_server_errors_that_persist_raise_api_unavailable(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="result", status=503, times=0)])
    with pytest.raises(ApiServerError) as err:
        clients(emu).result(UNKNOWN_ID)
    assert (err.value.code, err.value.status) == ("api_unavailable", 503)
    assert emu.counts["result"] == FAST.attempts


def test_cancel_is_retried_too(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(queue_seconds=30, faults=[Fault(route="cancel", status=502)])
    client = clients(emu)
    rid = client.submit(T2V, {"prompt": "x"}).request_id
    assert client.cancel(rid).outcome == "cancelled"
    assert emu.counts["cancel"] == 2


def test_hang_on_a_read_times_out_and_is_retried(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="schema", kind="hang", hang_seconds=3.0)])
    started = time.monotonic()
    schema = clients(emu, timeout=0.3).model_schema(T2V)
    assert schema["model_id"] == T2V
    assert emu.counts["schema"] == 2
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("kind", ["drop", "truncate", "oversize"])
def test_broken_answers_to_reads_are_retried(
    make_emulator: MakeEmulator, clients: Clients, kind: str
) -> None:
    emu = make_emulator(faults=[Fault(route="schema", kind=kind)])  # type: ignore[arg-type]
    assert clients(emu).model_schema(T2V)["model_id"] == T2V
    assert emu.counts["schema"] == 2


def test_unreachable_api_on_reads_is_a_network_error(clients: Clients) -> None:
    port = _closed_port()
    client = RunComfyClient(
        base_url=f"http://127.0.0.1:{port}/v1", token="t", retry=FAST, sleep=clients.sleeps.append
    )
    with client, pytest.raises(TransientError) as err:
        client.status(UNKNOWN_ID)
    assert (err.value.code, err.value.exit_code) == ("network_error", 75)
    assert len(clients.sleeps) == FAST.attempts - 1


# -- the submit is never repeated once it may have arrived ---------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_submit_5xx_is_unconfirmed_and_not_repeated(
    make_emulator: MakeEmulator, clients: Clients, code: int
) -> None:
    emu = make_emulator(faults=[Fault(route="submit", status=code)])
    with pytest.raises(SubmitUnconfirmed) as err:
        clients(emu).submit(T2V, {"prompt": "x"})
    exc = err.value
    assert (exc.code, exc.exit_code) == ("submit_unconfirmed", 69)
    assert "may or may not" in exc.message and "not repeated" in exc.message
    assert f"HTTP {code}" in exc.message and exc.details["http_status"] == code
    assert emu.counts["submit"] == 1
    assert clients.sleeps == []


def test_submit_429_is_retried_and_makes_one_job(
    make_emulator: MakeEmulator, clients: Clients
) -> None:
    emu = make_emulator(faults=[Fault(route="submit", status=429, retry_after=0.01)])
    sub = clients(emu).submit(T2V, {"prompt": "x"})
    assert emu.counts["submit"] == 2
    assert [job["request_id"] for job in emu.jobs()] == [sub.request_id]
    assert clients.sleeps == [0.01]


def test_submit_drop_is_unconfirmed(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(faults=[Fault(route="submit", kind="drop")])
    with pytest.raises(SubmitUnconfirmed) as err:
        clients(emu).submit(T2V, {"prompt": "x"})
    assert "not repeated" in err.value.message
    assert emu.counts["submit"] == 1
    assert len(emu.jobs()) == 1  # the job exists: exactly why the client must not resubmit


def test_submit_hang_is_unconfirmed(make_emulator: MakeEmulator, clients: Clients) -> None:
    emu = make_emulator(faults=[Fault(route="submit", kind="hang", hang_seconds=3.0)])
    with pytest.raises(SubmitUnconfirmed) as err:
        clients(emu, timeout=0.3).submit(T2V, {"prompt": "x"})
    assert "ReadTimeout" in err.value.message
    assert emu.counts["submit"] == 1


@pytest.mark.parametrize("kind", ["truncate", "oversize"])
def test_submit_with_a_broken_answer_is_unconfirmed(
    make_emulator: MakeEmulator, clients: Clients, kind: str
) -> None:
    emu = make_emulator(faults=[Fault(route="submit", kind=kind)])  # type: ignore[arg-type]
    with pytest.raises(SubmitUnconfirmed):
        clients(emu).submit(T2V, {"prompt": "x"})
    assert emu.counts["submit"] == 1


@pytest.mark.parametrize(
    "body", [{"status": "queued"}, {"request_id": "../../x"}, {"error": None, "request_id": 7}]
)
def test_submit_2xx_without_a_usable_request_id_is_unconfirmed(
    make_emulator: MakeEmulator, clients: Clients, body: dict[str, Any]
) -> None:
    emu = make_emulator(faults=[Fault(route="submit", status=200, body=body)])
    with pytest.raises(SubmitUnconfirmed):
        clients(emu).submit(T2V, {"prompt": "x"})
    assert emu.counts["submit"] == 1


def test_submit_to_a_closed_port_is_retried_then_transient(clients: Clients) -> None:
    port = _closed_port()
    client = RunComfyClient(
        base_url=f"http://127.0.0.1:{port}/v1", token="t", retry=FAST, sleep=clients.sleeps.append
    )
    with client, pytest.raises(TransientError) as err:
        client.submit(T2V, {"prompt": "x"})
    assert not isinstance(err.value, SubmitUnconfirmed)
    assert err.value.code == "network_error"
    assert len(clients.sleeps) == FAST.attempts - 1


# -- the async twin under faults -------------------------------------------------------------------------


def test_async_twin_retries_and_refuses_the_same_way(make_emulator: MakeEmulator) -> None:
    emu = make_emulator(
        faults=[
            Fault(route="submit", status=429, on_call=1),
            Fault(route="submit", status=500, on_call=3),
            Fault(route="status", status=503, on_call=1),
            Fault(route="status", kind="hang", hang_seconds=3.0, on_call=2),
            Fault(route="result", status=401, on_call=1),
        ]
    )
    sleeps: list[float] = []

    async def run() -> None:
        async with _async_client(emu, sleeps, timeout=0.3) as client:
            rid = (await client.submit(T2V, {"prompt": "x"})).request_id
            assert emu.counts["submit"] == 2
            with pytest.raises(SubmitUnconfirmed):
                await client.submit(T2V, {"prompt": "y"})
            assert emu.counts["submit"] == 3
            assert (await client.status(rid)).request_id == rid
            assert emu.counts["status"] == 3
            with pytest.raises(AuthError):
                await client.result(rid)
            with pytest.raises(ApiClientError) as err:
                await client.cancel(UNKNOWN_ID)
            assert err.value.code == "not_found"
            with pytest.raises(InputError):
                await client.status("../etc")

    asyncio.run(run())
    assert len(sleeps) == 3


def test_async_submit_to_a_closed_port_is_transient() -> None:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> None:
        async with AsyncRunComfyClient(
            base_url=f"http://127.0.0.1:{_closed_port()}/v1", token="t", retry=FAST, sleep=sleep
        ) as client:
            with pytest.raises(TransientError) as err:
                await client.submit(T2V, {"prompt": "x"})
            assert err.value.code == "network_error"

    asyncio.run(run())
    assert len(sleeps) == FAST.attempts - 1
