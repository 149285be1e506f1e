"""The signing key: from the environment, else made once in the instance folder, readable by its owner only."""

from __future__ import annotations

import stat

import pytest

from persistence.signing import KEY_FILE, signing_key


def test_a_key_is_made_once_in_the_instance_folder_and_kept(tmp_path):
    first = signing_key({}, str(tmp_path))
    assert len(first) == 32 and signing_key({}, str(tmp_path)) == first
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600


def test_the_environment_wins_and_is_checked(tmp_path):
    assert signing_key({"LEDGER_SIGNING_KEY": "ab" * 32}, str(tmp_path)) == bytes.fromhex("ab" * 32)
    assert not (tmp_path / KEY_FILE).exists()
    for bad in ("xyz", "ab" * 8):
        with pytest.raises(OSError, match="64 hexadecimal digits"):
            signing_key({"LEDGER_SIGNING_KEY": bad}, str(tmp_path))
