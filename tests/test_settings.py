"""Every environment variable is read in skill/settings.py and listed in its ENVIRONMENT table."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from skill import settings

SKILL = Path(__file__).resolve().parents[1] / "skill"


def test_no_module_but_settings_reads_the_environment() -> None:
    for path in SKILL.rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"os\.environ\.get|os\.getenv|environ\[", text), path


def test_every_variable_read_is_documented() -> None:
    text = (SKILL / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:_env|_base_url|environ\.get)\("([A-Z][A-Z0-9_]+)"', text))
    listed = {name for name, _ in settings.ENVIRONMENT}
    assert read, "the pattern found no reads: the test would pass vacuously"
    assert read <= listed, read - listed


def test_rules_token_and_ca_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KLING3_RULES", " /tmp/r.yaml ")
    monkeypatch.setenv("RUNCOMFY_TOKEN", "")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ca.pem")
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    assert settings.rules_path() == "/tmp/r.yaml"
    assert settings.token_from_env() is None
    assert settings.ca_bundle() == ("/etc/ca.pem", None)


def test_videos_dir_is_the_users_videos_folder_unless_configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLING3_OUTPUT_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no user-dirs.dirs: the default
    import platformdirs

    assert settings.videos_dir() == Path(platformdirs.user_videos_dir()) / "kling3"
    if sys.platform.startswith("linux"):
        assert settings.videos_dir() == tmp_path / "user" / "Videos" / "kling3"
    monkeypatch.setenv("KLING3_OUTPUT_DIR", "~/clips")
    assert settings.videos_dir() == tmp_path / "user" / "clips"
