"""The reconstruction attack's clean recognisers are trained once per settings and seed, then
read back from disk: the same network (bit for bit), never one trained on other settings."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from learn import attacks, table1
from learn.attack_networks import FlatClassifier, InceptionClassifier
from learn.recogniser_store import RecogniserStore
from tests.learn.test_table1 import TINY, tiny_splits


def _trained_looking(seed: int) -> InceptionClassifier:
    torch.manual_seed(seed)
    model = InceptionClassifier(3, 5, 32, width=4)
    for module in model.modules():  # running statistics as training leaves them
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return model.eval()


def test_round_trip_gives_the_same_network(tmp_path):
    model = _trained_looking(0)
    store = RecogniserStore(tmp_path, "settings-a")
    assert 0 not in store
    store[0] = model
    x = torch.rand(4, 3, 32, 32)
    again = RecogniserStore(tmp_path, "settings-a")
    assert 0 in again and 1 not in again
    loaded = again[0]
    assert loaded is not model
    torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)
    assert 0 not in RecogniserStore(tmp_path, "settings-b")  # other settings: not used
    with pytest.raises(KeyError):
        again[1]


def test_corrupt_files_and_other_networks_are_refused(tmp_path):
    store = RecogniserStore(tmp_path, "s")
    store[0] = _trained_looking(0)
    store.path(0).write_bytes(b"not a torch file")
    assert 0 not in RecogniserStore(tmp_path, "s")
    with pytest.raises(TypeError, match="InceptionClassifier"):
        store[1] = FlatClassifier(3, 5, 32)


def test_table1_trains_each_seed_once_across_runs(tmp_path, monkeypatch):
    """A rerun (row result deleted) reads the recogniser back and scores exactly as before."""
    rows = [row for row in table1.ROWS if row.key == "mp_unlearned"]
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=())
    cache = lambda: table1.TaskCache(tmp_path, {"settings": 1, "seeds": 1})
    run = lambda: table1.run_table1(tiny_splits(), profile, seeds=(0,),
                                    attacks=("reconstruct",), rows=rows, progress=False,
                                    cache=cache())
    trained = []
    original = attacks.train_classifier

    def recording(model, *args, **kwargs):
        trained.append(model.config["num_classes"])
        return original(model, *args, **kwargs)

    monkeypatch.setattr(attacks, "train_classifier", recording)
    first, _ = run()
    assert trained == [3]  # the clean recogniser of seed 0 (3 evaluation identities)
    assert (tmp_path / "recognisers" / "clean-recogniser-seed0.pt").is_file()
    (tmp_path / "row-mp_unlearned-seed0.pt").unlink()
    trained.clear()
    again, _ = run()
    assert trained == []
    assert again[0].result.privacy.scores == first[0].result.privacy.scores
    # other settings of the cache: trained again
    other = table1.TaskCache(tmp_path, {"settings": 2, "seeds": 1}).recogniser_store()
    assert 0 not in other
    # the seed count and the attack list do not decide a seed's recogniser
    assert 0 in table1.TaskCache(tmp_path, {"settings": 1, "seeds": 3,
                                             "attacks": ["mlp"]}).recogniser_store()
