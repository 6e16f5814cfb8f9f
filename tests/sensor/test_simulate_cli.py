"""`canopic simulate` on images, folders and a video."""
import cv2
import numpy as np
import pytest

from canopic.app.cli import main


@pytest.fixture()
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"img{i}.png"), rng.integers(0, 255, (80, 100, 3), dtype=np.uint8))
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 72))
    for _ in range(5):
        writer.write(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))
    writer.release()
    return folder, video


def test_simulate_folder_and_video(tmp_path, inputs):
    folder, video = inputs
    out = tmp_path / "out"
    assert main(["simulate", str(folder), str(video), "--encoder",
                 "Learned_Conv4_Maxpool_Quantize_alpha1", "--out", str(out)]) == 0
    codes = np.load(out / "codes.npz", allow_pickle=False)
    assert codes["codes"].shape == (8, 12, 8, 8) and codes["codes"].dtype == np.uint8
    assert codes["codes"].max() <= 15
    assert len(list((out / "previews").glob("*.png"))) == 8
    assert (out / "fig4.png").stat().st_size > 10_000
    assert not list(out.rglob("*.part*"))


def test_simulate_errors_are_clear(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["simulate", "--size", "60", "--out", str(tmp_path / "o")]) == 1
    assert "multiple of 8" in capsys.readouterr().err
    assert main(["simulate", "--encoder", "nope", "--out", str(tmp_path / "o")]) == 1
    assert "unknown published encoder" in capsys.readouterr().err
