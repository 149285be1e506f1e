"""The master key: from the environment, else made once in the instance folder (with a warning), readable by
its owner only; a previous key opens what it wrapped until everything is rewrapped."""

from __future__ import annotations

import logging
import stat

import pytest

from persistence.privacy import MASTER_KEY_FILE, Vault, key_id, master_keys
from projections.store import ViewStore
from tests.support import open_ledger


def test_a_master_key_is_made_once_in_the_instance_folder_with_a_warning(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        (first,) = master_keys({}, str(tmp_path))
    assert len(first) == 32 and master_keys({}, str(tmp_path)) == (first,)
    assert stat.S_IMODE((tmp_path / MASTER_KEY_FILE).stat().st_mode) == 0o600
    assert "back it up" in caplog.text and str(tmp_path) in caplog.text


def test_the_environment_wins_and_a_previous_key_comes_second(tmp_path):
    keys = master_keys({"LEDGER_MASTER_KEY": "ab" * 32, "LEDGER_MASTER_KEY_PREVIOUS": "cd" * 32}, str(tmp_path))
    assert keys == (bytes.fromhex("ab" * 32), bytes.fromhex("cd" * 32))
    assert not (tmp_path / MASTER_KEY_FILE).exists()
    assert key_id(keys[0]) != key_id(keys[1])
    with pytest.raises(OSError, match="64 hexadecimal digits"):
        master_keys({"LEDGER_MASTER_KEY": "nope"}, str(tmp_path))


def test_keys_wrapped_by_another_master_key_need_it_named(sqlite_store, tmp_path):
    ledger = open_ledger(sqlite_store, str(tmp_path))
    try:
        vault = ledger.vault
        vault.start_scope("scope-1", [])
        sealed = vault.seal("scope-1", "a text")
        stranger = Vault(ViewStore(ledger.factory), (bytes(32),))
        stranger.settle(has_events=True)
        with pytest.raises(OSError, match="LEDGER_MASTER_KEY_PREVIOUS"):
            stranger.open("scope-1", sealed)
        both = Vault(ViewStore(ledger.factory), (bytes(32), vault.master))
        both.settle(has_events=True)
        assert both.open("scope-1", sealed) == ("a text", False)
        assert both.rewrap() >= 1  # the scope key (and the lookup key, once made)
        assert stranger.open("scope-1", sealed) == ("a text", False)
    finally:
        ledger.close()
