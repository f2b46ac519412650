"""The floor of a batch: the least a bare script does to run N jobs against the same API.

asyncio and ONE httpx.AsyncClient: each job submits, polls its status at the same cadence as
``kling3 batch`` (a poll right after the submit, then one every ``--poll`` seconds), reads the
result and streams the video into a file, then fsyncs that file (kling3 makes every saved video
durable before it reports it, so the floor pays for the same flush). No planning, journal, checks
or events: what is left is the HTTP work itself and the one flush, the yardstick ``kling3 batch``
is compared with (bench/batch_cpu.py).

The API base and token come from RUNCOMFY_MODEL_API_BASE and RUNCOMFY_TOKEN, as for kling3.
Run: python bench/floor_batch.py [--jobs 200] [--concurrency 8] [--poll 0.1] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

import httpx

ENDPOINT = "kling/kling-3.0/standard/text-to-video"
DONE = {"completed", "succeeded", "success"}


async def one_job(
    client: httpx.AsyncClient, base: str, auth: dict[str, str], n: int, poll: float, out: Path
) -> int:
    payload = {"prompt": f"A paper boat number {n} drifting on a pond.", "duration": 5,
               "aspect_ratio": "16:9", "sound": False}
    rid = (await client.post(f"{base}/models/{ENDPOINT}", json=payload, headers=auth)).json()["request_id"]
    while True:
        status = (await client.get(f"{base}/requests/{rid}/status", headers=auth)).json()["status"]
        if status in DONE:
            break
        if status in ("failed", "cancelled"):
            raise SystemExit(f"job {rid} ended {status}")
        await asyncio.sleep(poll)
    url = (await client.get(f"{base}/requests/{rid}/result", headers=auth)).json()["output"]["video"]
    size = 0
    with open(out / f"{rid}.mp4", "wb") as f:
        async with client.stream("GET", url) as response:
            async for chunk in response.aiter_raw():
                size += f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    return size


async def main_async(jobs: int, concurrency: int, poll: float, out: Path) -> None:
    base = os.environ["RUNCOMFY_MODEL_API_BASE"].rstrip("/")
    auth = {"Authorization": f"Bearer {os.environ['RUNCOMFY_TOKEN']}"}
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=60) as client:

        async def slot(n: int) -> int:
            async with sem:
                return await one_job(client, base, auth, n, poll, out)

        sizes = await asyncio.gather(*(slot(n) for n in range(jobs)))
    assert all(sizes), "an empty download"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--poll", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        out = args.out or Path(d)
        out.mkdir(parents=True, exist_ok=True)
        asyncio.run(main_async(args.jobs, args.concurrency, args.poll, out))


if __name__ == "__main__":
    main()
