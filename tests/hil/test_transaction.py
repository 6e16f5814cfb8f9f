"""Flashing: every file checked against the board before any is written, and a failed readback
after a commit says what the board now holds."""
from __future__ import annotations

import hashlib

import pytest

from hil import protocol as p
from hil.api import flash_and_verify
from hil.client import BoardClient
from hil.link import InProcessLink
from tests.hil.conftest import mask, table


def test_a_readback_that_fails_after_the_commit_says_the_board_holds_the_new_table(
        tmp_path, small_board, monkeypatch):
    link = InProcessLink(str(tmp_path / "flash"), small_board)
    client = BoardClient(link, progress=False)
    client.hello()
    data = table(3).to_bytes()

    def lost(*args, **kwargs):
        raise p.BoardTimeout("Failed to read back thresholds: no answer after 8 tries")

    monkeypatch.setattr(client, "readback", lost)
    with pytest.raises(p.CommittedUnverified, match="committed to slot .* now holds the new "
                                                    "thresholds, but reading it back failed"):
        client.flash(p.Kind.THRESHOLDS, data)
    assert link.board.store.read_active(p.Kind.THRESHOLDS) == data   # the commit stands


def _save(artifact, path):
    artifact.save(str(path))
    return str(path)


def test_a_flash_of_several_files_is_refused_whole_when_one_does_not_fit(tmp_path):
    flash_dir = str(tmp_path / "board")
    args = ["--flash-dir", flash_dir, "--mask-size", "16x16"]
    good_table = _save(table(1), tmp_path / "t.bin")
    too_wide = _save(mask(2, width=24, height=16), tmp_path / "m.cmask")
    with pytest.raises(ValueError, match="mask"):
        flash_and_verify("emulator", good_table, too_wide, emulator_args=args, progress=False)
    # nothing was written: the table's first commit now is generation 1
    status = flash_and_verify("emulator", good_table, emulator_args=args, progress=False)
    assert status["thresholds"].generation == 1


def test_the_emulator_takes_the_masks_size_unless_told_otherwise(tmp_path):
    pattern = mask(5, width=24, height=16)
    status = flash_and_verify("emulator", mask_file=_save(pattern, tmp_path / "m.cmask"),
                              emulator_args=["--flash-dir", str(tmp_path / "board")],
                              progress=False)
    assert status["mask"].sha256 == hashlib.sha256(pattern.to_bytes()).digest()
