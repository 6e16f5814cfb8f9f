"""canopic.core.cache: records are reused only under their fingerprint, and never unpickled."""
from __future__ import annotations

import hashlib
import json
import pickle

import pytest
import torch

from canopic.core.cache import FingerprintCache, fingerprint


class _Planted:
    """Unpickling this writes a marker file: proof that a record was unpickled."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_fingerprint_is_the_sha256_of_canonical_json():
    settings = {"seed": 3, "profile": {"epochs": 80, "alpha": 1.0}}
    text = json.dumps(settings, sort_keys=True)
    assert fingerprint(settings) == hashlib.sha256(text.encode()).hexdigest()
    assert fingerprint({"profile": {"alpha": 1.0, "epochs": 80}, "seed": 3}) == fingerprint(settings)
    assert fingerprint({**settings, "seed": 4}) != fingerprint(settings)


@pytest.mark.parametrize("codec", ["json", "torch"])
def test_a_record_is_reused_only_under_its_own_fingerprint(tmp_path, codec):
    cache = FingerprintCache(tmp_path, codec=codec)
    payload = {"top1": [0.25, 0.5], "name": "blur"}
    if codec == "torch":
        payload["weights"] = torch.arange(6.0).reshape(2, 3)
    cache.save("row-blur-seed0", "abc", payload)
    loaded = cache.load("row-blur-seed0", "abc")
    assert loaded["top1"] == [0.25, 0.5] and loaded["name"] == "blur"
    if codec == "torch":
        assert torch.equal(loaded["weights"], payload["weights"])
    assert cache.load("row-blur-seed0", "other settings") is None
    assert cache.load("row-blur-seed1", "abc") is None


@pytest.mark.parametrize("codec", ["json", "torch"])
def test_a_planted_pickle_is_never_executed(tmp_path, codec):
    cache = FingerprintCache(tmp_path / "records", codec=codec)
    marker = tmp_path / "pwned"
    path = cache.path("task")
    path.parent.mkdir(parents=True)
    path.write_bytes(pickle.dumps({"fingerprint": "abc", "payload": _Planted(marker)}))
    assert cache.load("task", "abc") is None
    assert not marker.exists()
    path.write_text("{ not json")
    assert cache.load("task", "abc") is None


def test_an_unknown_codec_is_refused(tmp_path):
    with pytest.raises(ValueError, match="codec"):
        FingerprintCache(tmp_path, codec="pickle")
