"""Atomic writes: a failure leaves neither a partial file nor a changed target."""
import numpy as np
import pytest

from canopic.core import files


def test_failed_write_leaves_target_untouched(tmp_path):
    target = tmp_path / "table.json"
    files.write_json(target, {"v": 1})
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            with open(tmp, "w") as handle:
                handle.write('{"v": 2, "trunc')
            raise RuntimeError("power cut")
    assert target.read_text().strip().endswith("}")
    assert '"v": 1' in target.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.json"]


def test_npz_round_trip_without_pickle(tmp_path):
    path = tmp_path / "codes.npz"
    files.save_npz(path, codes=np.arange(6, dtype=np.uint8).reshape(2, 3), names=np.array(["a", "b"]))
    with np.load(path, allow_pickle=False) as data:
        assert data["codes"].tolist() == [[0, 1, 2], [3, 4, 5]]
        assert data["names"].tolist() == ["a", "b"]
    with pytest.raises(TypeError, match="pickle"):
        files.save_npz(path, bad=np.array([{}], dtype=object))


def test_sha256_matches_hashlib(tmp_path):
    import hashlib

    path = tmp_path / "blob"
    data = bytes(range(256)) * 5000
    files.write_bytes(path, data)
    assert files.sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_a_staged_folder_appears_whole_or_not_at_all(tmp_path):
    out = tmp_path / "fab"
    with pytest.raises(RuntimeError):
        with files.staged_folder(out) as staging:
            open(f"{staging}/a.gds", "w").close()
            raise RuntimeError("export failed half-way")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    with files.staged_folder(out) as staging:
        open(f"{staging}/a.gds", "w").close()
    assert sorted(p.name for p in out.iterdir()) == ["a.gds"]
    with pytest.raises(ValueError, match="exists"):
        with files.staged_folder(out):
            pass
    with files.staged_folder(out, overwrite=True) as staging:
        open(f"{staging}/b.gds", "w").close()
    assert sorted(p.name for p in out.iterdir()) == ["b.gds"]
