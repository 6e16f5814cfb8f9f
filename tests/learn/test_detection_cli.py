"""`canopic detect-eval` end to end on a tiny profile: files, rows, columns and manifest."""
import csv
import json
import os


from canopic.app.cli import main
from canopic.core.files import sha256_file

CONFIGS = ["clean", "pixelate", "Learned_Conv1_Maxpool_Quantize_alpha1"]


def test_detect_eval_writes_one_row_per_configuration(tmp_path):
    out = tmp_path / "run"
    code = main(["detect-eval", "--quick", "--out", str(out), "--train-scenes", "32",
                 "--test-scenes", "12", "--epochs", "1", "--configs", *CONFIGS])
    assert code == 0
    with open(out / "detection.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["configuration"] for r in rows] == CONFIGS
    for row in rows:
        assert 0.0 <= float(row["ap50"]) <= 1.0
        assert int(row["test_scenes"]) == 12 and int(row["train_scenes"]) == 32
    with open(out / "roc.csv") as handle:
        roc = list(csv.DictReader(handle))
    assert {r["configuration"] for r in roc} <= set(CONFIGS)
    for name in CONFIGS:   # the discrete ROC never loses true positives as thresholds drop
        tp = [int(r["true_positives"]) for r in roc if r["configuration"] == name]
        assert tp == sorted(tp)
    manifest = json.loads((out / "detection_manifest.json").read_text())
    for entry in manifest["files"].values():
        assert sha256_file(out / entry["path"]) == entry["sha256"]
    assert os.path.getsize(out / "fig6a_roc.png") > 0 and os.path.getsize(out / "fig6b_boxes.png") > 0


def test_detect_eval_rejects_bad_input(tmp_path, capsys):
    out = str(tmp_path / "out")
    assert main(["detect-eval", "--out", out, "--configs", "sepia"]) == 1
    assert "sepia" in capsys.readouterr().err
    assert main(["detect-eval", "--out", out, "--train-scenes", "0"]) == 1
    assert "--train-scenes" in capsys.readouterr().err
