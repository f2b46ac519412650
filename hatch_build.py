"""Wheel build hook: prebuild the start-up cache into ``skill/data/cache`` (see skill/startup_cache.py).

A fresh install's first ``kling3 plan`` then loads the compiled rules, vocabulary and templates
instead of deriving them, even where KLING3_HOME cannot be written. Entries are keyed by the
Python and library versions of the build; an install that differs simply misses them and builds
as usual. The cache is derived in a child process from this source tree; if that fails, the
wheel is built without it (a warning says so), never broken.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

ROOT = Path(__file__).resolve().parent

PREBUILD = r"""
import contextlib, io, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from skill import startup_cache
with startup_cache.prebuilding(Path(sys.argv[2])):
    from skill.cli import main
    requests = [
        ["plan", "a quick vertical draft of a barista pulling espresso, with cafe sound", "--json"],
        ["plan", "slow push-in, she smiles", "--image-url", "https://example.com/face.jpg", "--json"],
        ["plan", "Shot 1: a wide harbour at dawn. Shot 2: a close-up of a gull, 12 seconds", "--json"],
    ]
    for args in requests:
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(args)
        if code != 0:
            raise SystemExit(f"prebuild: kling3 {args[0]} exited {code}")
    from skill.intent import enable_prefilter
    enable_prefilter()  # what `plan --batch` reads: each signal pattern's needed substrings
    with contextlib.redirect_stdout(io.StringIO()):
        main(["plan", "warm the batch prefilter", "--json"])
    from skill.prompt import render
    env = render._env_for(None)
    for name in sorted(p.name for p in Path(render._bundled_templates()).glob("*.j2")):
        env.get_template(name)
    startup_cache._save_regexes(frozenset(), [])
"""


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        out = Path(tempfile.mkdtemp(prefix="kling3-prebuilt-"))
        env = {k: v for k, v in os.environ.items() if k not in ("KLING3_CACHE", "KLING3_PROMPT_CACHE", "KLING3_RULES")}
        env |= {"KLING3_HOME": str(out / "home"), "PYDANTIC_DISABLE_PLUGINS": "__all__"}
        proc = subprocess.run(
            [sys.executable, "-c", PREBUILD, str(ROOT), str(out / "cache")],
            capture_output=True, text=True, env=env, check=False,
        )
        entries = sorted((out / "cache").glob("*.k3c"))
        if proc.returncode != 0 or not entries:
            self.app.display_warning(f"kling3: no prebuilt start-up cache in this wheel: {proc.stderr[-800:]}")
            return
        build_data["force_include"][str(out / "cache")] = "skill/data/cache"
