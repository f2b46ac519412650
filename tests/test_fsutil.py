"""The output-folder probe, and what a recent one vouches for.

An fsync'ed probe of a folder vouches for its filesystem for a minute (a batch probes its root
once, then only creates its 200 item folders and asks for write access); the check itself is
never skipped, so a folder that became a file, a file in the way, or a folder made read-only is
refused however recently its parent passed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skill.errors import OutputDirError
from skill.fsutil import check_output_dir


def test_folders_under_a_probed_one_are_still_created_and_probed(tmp_path: Path) -> None:
    root = check_output_dir(tmp_path / "batch")
    for n in range(3):
        item = check_output_dir(root / f"{n:02d}")
        assert item.is_dir() and list(item.iterdir()) == []  # the probe left nothing behind
    assert sorted(p.name for p in root.iterdir()) == ["00", "01", "02"]


def test_a_folder_that_became_a_file_is_refused_right_after_a_probe_passed(tmp_path: Path) -> None:
    root = check_output_dir(tmp_path / "batch")
    item = check_output_dir(root / "01")
    item.rmdir()
    item.write_text("a file where the folder was")
    with pytest.raises(OutputDirError) as err:
        check_output_dir(item)
    assert err.value.details["reason"] == "it is a file, or under one"
    with pytest.raises(OutputDirError):
        check_output_dir(item / "deeper")
    check_output_dir(root)  # the vouched-for root itself is still fine


def test_the_check_before_a_download_refuses_as_the_one_before_paying(tmp_path: Path) -> None:
    """``sync=False`` (no fsync of the probe) still creates, writes and refuses the same way."""
    made = check_output_dir(tmp_path / "new" / "deeper", sync=False)
    assert made.is_dir() and list(made.iterdir()) == []
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputDirError) as err:
        check_output_dir(tmp_path / "f", sync=False)
    assert err.value.details["reason"] == "it is a file, or under one"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_folder_made_read_only_under_a_vouched_root_is_refused(tmp_path: Path) -> None:
    root = check_output_dir(tmp_path / "batch")
    item = root / "01"
    item.mkdir()
    item.chmod(0o500)
    try:
        with pytest.raises(OutputDirError):
            check_output_dir(item)
    finally:
        item.chmod(0o700)
