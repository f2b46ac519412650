"""Download a 256 MiB output from the emulator with kling3's downloader and with curl.

Targets: throughput >= 0.7x curl's; peak RSS of the downloading process <= 100 MiB.
Run: python bench/download_vs_curl.py [--mib 256] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from skill.testing.emulator import Emulator, EmulatorConfig

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from skill.execution.downloads import download_file
url, api_base, dest = sys.argv[1], sys.argv[2], Path(sys.argv[3])
t0 = time.perf_counter()
f = download_file(url, dest, api_base=api_base)
elapsed = time.perf_counter() - t0
rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "bytes": f.size, "rss_mib": rss_kib / 1024}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if not shutil.which("curl"):
        sys.exit("curl is not installed")
    size = args.mib * 2**20
    with Emulator(EmulatorConfig(queue_seconds=0, run_seconds=0, output_bytes=size)) as emu:
        import httpx

        h = {"Authorization": f"Bearer {emu.token}"}
        rid = httpx.post(f"{emu.base_url}/models/kling/kling-3.0/standard/text-to-video", headers=h,
                         json={"prompt": "x", "duration": 5, "sound": False}).json()["request_id"]
        time.sleep(0.1)
        url = httpx.get(f"{emu.base_url}/requests/{rid}/result", headers=h).json()["output"]["video"]
        ours, theirs, durable, rss = [], [], [], []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                subprocess.run(["curl", "-s", "-o", f"{d}/c.mp4", url], check=True)
                theirs.append(time.perf_counter() - t0)
                fd = os.open(f"{d}/c.mp4", os.O_RDONLY)
                os.fsync(fd)
                os.close(fd)
                durable.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as d:
                out = subprocess.run([sys.executable, "-c", CHILD, url, emu.base_url, d], capture_output=True, text=True, check=True)
                doc = json.loads(out.stdout)
                assert doc["bytes"] >= size
                ours.append(doc["seconds"])
                rss.append(doc["rss_mib"])
    o, c, cd = statistics.median(ours), statistics.median(theirs), statistics.median(durable)
    print(f"{args.mib} MiB: kling3 {o:.2f} s ({args.mib / o:.0f} MiB/s, fsynced, hashed, verified); "
          f"curl {c:.2f} s ({args.mib / c:.0f} MiB/s) -> {c / o:.2f}x curl (target >= 0.70x); "
          f"curl + fsync {cd:.2f} s -> {cd / o:.2f}x; peak RSS {max(rss):.0f} MiB (target <= 100 MiB); median of {args.runs}")


if __name__ == "__main__":
    main()
