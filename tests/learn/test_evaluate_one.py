"""learn.evaluate_one and ``canopic evaluate``: one encoder through identification, detection and
verification, with the same numbers as Table 1's task of the same encoder and seed."""
from __future__ import annotations

import json

import pytest

from canopic.app.cli import main
from learn import datasets, table1_rows
from learn.evaluate_one import encoder_from_spec, evaluate_one
from tests.learn.test_table1 import TINY, tiny_splits


@pytest.fixture(scope="module")
def splits():
    return tiny_splits()


def test_one_encoder_gives_table1s_numbers_for_the_same_seed(splits):
    from learn.table1_run import _Evaluator
    from learn.attacks import ATTACK_NAMES
    from learn.table1_cameras import baseline_encoder

    summary = evaluate_one("pixelate:8", TINY, seeds=(0,), progress=False, splits=splits)
    reference = _Evaluator(splits, TINY, ATTACK_NAMES, progress=False).evaluate(
        baseline_encoder("pixelate", 8), 0, "pixelate")
    assert summary["identity_top1"]["values"] == [100 * reference.privacy.top1.mean]
    assert summary["strongest_attack"] == reference.privacy.strongest
    assert summary["face_accuracy"]["values"] == [100 * reference.utility.test_accuracy.mean]
    assert summary["verification_accuracy"]["values"] == [
        100 * reference.verification.accuracy.mean]
    assert 0.0 <= summary["verification_auc"]["mean"] <= 1.0
    assert set(summary["per_attack_top1"]) == set(ATTACK_NAMES)
    assert summary["identity_chance"] == pytest.approx(100 / 3)


def test_canopic_evaluate_writes_json_and_markdown(tmp_path, monkeypatch, capsys, splits):
    monkeypatch.setattr(table1_rows, "QUICK", TINY)
    monkeypatch.setattr(datasets, "default_splits", lambda *args, **kwargs: splits)
    out = tmp_path / "eval"
    assert main(["evaluate", "blur:8", "--quick", "--out", str(out), "--quiet",
                 "--device", "cpu", "--no-verification"]) == 0
    summary = json.loads((out / "evaluation.json").read_text())
    assert summary["encoder"] == "blur:8" and summary["seeds"] == [0]
    assert "verification_accuracy" not in summary
    page = (out / "evaluation.md").read_text()
    assert "identity top-1" in page and "blur 8 px" in page
    assert "blur 8 px: identity" in capsys.readouterr().out
    # an existing --out is refused without --overwrite
    assert main(["evaluate", "blur:8", "--quick", "--out", str(out), "--quiet"]) == 1


@pytest.mark.parametrize("spec, message", [
    ("blur", "needs its sigma"), ("blur:-2", "not a sigma"), ("pixelate:2.5", "block side"),
    ("clean:3", "takes no number"), ("Learned_nothing", "not recognised"),
])
def test_bad_encoder_specs_are_refused_by_name(spec, message):
    with pytest.raises(ValueError, match=message):
        encoder_from_spec(spec)


def test_a_folder_without_a_design_is_refused(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--quick", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "design.json" in err and "Traceback" not in err


def test_published_and_design_bundle_specs_load_cameras(tmp_path):
    import torch

    from sensor.published import published_names

    encoder, description = encoder_from_spec(published_names()[0])
    assert description.startswith("published encoder")
    codes = encoder(torch.rand(2, 3, 64, 64), torch.Generator().manual_seed(0))
    assert codes.shape[0] == 2 and float(codes.max()) <= 15


def test_a_cuda_device_without_cuda_is_refused_before_training(tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["evaluate", "clean", "--quick", "--device", "cuda",
                 "--out", str(tmp_path / "o")]) == 1
    assert "--device: cuda is not available" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
