"""learn.datasets: bundled data, users' folders, identity splits, sRGB decoding, batching."""
from __future__ import annotations

import numpy as np
import pytest
import torch

cv2 = pytest.importorskip("cv2")

from canopic.core.paths import data_dir  # noqa: E402
from learn import datasets  # noqa: E402


@pytest.fixture(scope="module")
def bundled():
    return datasets.load_faces(), datasets.load_nonfaces()


def test_bundled_counts_match_data_readme(bundled):
    faces, nonfaces = bundled
    # data/README.md: 62 identities (>= 20 images each), 3,023 faces, 3,125 no-face images
    assert faces.images.shape == (3023, 64, 64, 3) and faces.images.dtype == np.uint8
    assert faces.num_classes == 62 and np.bincount(faces.labels).min() >= 20
    assert nonfaces.images.shape == (3125, 64, 64, 3)
    assert not faces.images.flags.writeable  # the cache cannot be corrupted by callers


def test_bundled_decoding_matches_opencv_on_the_raw_archive():
    archive = np.load(data_dir() / "faces64_wide.npz", allow_pickle=False)
    offsets = archive["jpeg_offsets"]
    i = 1234
    raw = cv2.imdecode(archive["jpeg"][offsets[i]:offsets[i + 1]], cv2.IMREAD_COLOR)[:, :, ::-1]
    np.testing.assert_array_equal(datasets.load_faces().images[i], raw)


def test_splits_are_identity_disjoint_capped_and_complete(bundled):
    splits = datasets.make_splits(*bundled, seed=3)
    assert not set(splits.encoder_identities) & set(splits.eval_identities)
    assert len(splits.eval_identities) == 30 and len(splits.encoder_identities) == 32
    counts = np.bincount(bundled[0].labels)
    # the evaluation identities are those with the most images
    eval_index = [bundled[0].names.index(n) for n in splits.eval_identities]
    enc_index = [bundled[0].names.index(n) for n in splits.encoder_identities]
    assert counts[eval_index].min() >= counts[enc_index].max()
    files = [set(getattr(splits, p).files) for p in ("eval_train", "eval_val", "eval_test",
                                                     "encoder_train", "encoder_val")]
    for a in range(len(files)):
        for b in range(a + 1, len(files)):
            assert not files[a] & files[b]
    for part in (splits.eval_train, splits.eval_val, splits.eval_test):
        assert part.names == splits.eval_identities
        assert np.bincount(part.labels, minlength=30).min() >= 1  # every class in every part
    per_class = (np.bincount(splits.eval_train.labels) + np.bincount(splits.eval_val.labels)
                 + np.bincount(splits.eval_test.labels))
    assert per_class.max() == 40  # capped
    nonface_files = [set(getattr(splits, p).files) for p in (
        "nonfaces_encoder", "nonfaces_train", "nonfaces_val", "nonfaces_test")]
    assert sum(map(len, nonface_files)) == len(set().union(*nonface_files)) == 3125
    # labels point at the right identity names
    by_file = dict(zip(bundled[0].files, bundled[0].labels))
    for f, lab in zip(splits.eval_test.files[:50], splits.eval_test.labels[:50]):
        assert bundled[0].names[by_file[f]] == splits.eval_test.names[lab]


def test_splits_are_deterministic_per_seed(bundled):
    a = datasets.make_splits(*bundled, seed=7)
    b = datasets.make_splits(*bundled, seed=7)
    c = datasets.make_splits(*bundled, seed=8)
    assert a.eval_test.files == b.eval_test.files and a.nonfaces_val.files == b.nonfaces_val.files
    np.testing.assert_array_equal(a.encoder_train.images, b.encoder_train.images)
    assert a.eval_test.files != c.eval_test.files


def _write_faces(root, identities, per_identity, size=(80, 50)):
    rng = np.random.default_rng(0)
    for k in range(identities):
        folder = root / f"person_{k}"
        folder.mkdir(parents=True)
        for j in range(per_identity):
            image = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{j}.png"), image)


def test_user_folders_load_like_the_bundle(tmp_path):
    _write_faces(tmp_path / "faces", identities=4, per_identity=5)
    (tmp_path / "nonfaces" / "class_a").mkdir(parents=True)
    flat = np.full((30, 30, 3), 200, np.uint8)
    for j in range(6):
        cv2.imwrite(str(tmp_path / "nonfaces" / "class_a" / f"{j}.jpg"), flat)
    faces = datasets.load_faces(tmp_path / "faces")
    nonfaces = datasets.load_nonfaces(tmp_path / "nonfaces")
    assert faces.images.shape == (20, 64, 64, 3) and faces.num_classes == 4
    assert faces.names == ("person_0", "person_1", "person_2", "person_3")
    assert nonfaces.images.shape == (6, 64, 64, 3)
    # centre crop + area resize, checked against OpenCV directly
    source = cv2.imread(str(tmp_path / "faces" / "person_2" / "3.png"))
    expected = cv2.resize(source[15:65], (64, 64), interpolation=cv2.INTER_CUBIC)[:, :, ::-1]
    np.testing.assert_array_equal(faces.images[faces.files.index(
        str(tmp_path / "faces" / "person_2" / "3.png"))], expected)
    splits = datasets.make_splits(faces, nonfaces, seed=0, n_eval_identities=2)
    assert len(splits.eval_identities) == 2 and len(splits.encoder_identities) == 2


def test_bad_folders_give_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files"):
        datasets.load_faces(tmp_path / "empty")
    with pytest.raises(ValueError, match="no image files"):
        datasets.load_nonfaces(tmp_path / "empty")
    _write_faces(tmp_path / "one", identities=1, per_identity=3)
    with pytest.raises(ValueError, match="need at least 2"):
        datasets.load_faces(tmp_path / "one")
    _write_faces(tmp_path / "broken", identities=2, per_identity=2)
    (tmp_path / "broken" / "person_1" / "bad.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="bad.jpg.*cannot decode"):
        datasets.load_faces(tmp_path / "broken")
    with pytest.raises(ValueError, match="not found"):
        datasets.load_faces(tmp_path / "missing")


def test_bad_split_parameters_name_the_parameter(bundled):
    with pytest.raises(ValueError, match="n_eval_identities"):
        datasets.make_splits(*bundled, n_eval_identities=62)
    with pytest.raises(ValueError, match="nonface_fractions"):
        datasets.make_splits(*bundled, nonface_fractions=(0.5, 0.5, 0.1, 0.1))
    with pytest.raises(ValueError, match="eval_val_fraction"):
        datasets.make_splits(*bundled, eval_val_fraction=1.5)


def test_to_tensor_is_the_srgb_standard_decoding():
    # IEC 61966-2-1 reference points: code 0 -> 0, 255 -> 1, mid-grey 128 -> 0.21586 (linear)
    image = np.array([[[0, 128, 255], [10, 11, 188]]], dtype=np.uint8)
    tensor = datasets.to_tensor(image)
    assert tensor.shape == (1, 3, 1, 2) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor[0, :, 0, 0].numpy(), [0.0, 0.2158605, 1.0], rtol=1e-5)
    # code 10 is on the linear segment (10/255 <= 0.04045): 10 / 255 / 12.92
    assert tensor[0, 0, 0, 1].item() == pytest.approx(10 / 255 / 12.92, rel=1e-6)
    back = datasets.to_srgb_uint8(tensor)
    np.testing.assert_array_equal(back[0], image)
    with pytest.raises(ValueError, match="uint8"):
        datasets.to_tensor(image.astype(np.float32))


def test_balanced_batches_are_half_faces_and_cover_the_larger_set():
    g = torch.Generator().manual_seed(0)
    batches = list(datasets.balanced_batches(10, 37, batch_size=8, generator=g))
    assert all(len(f) == 4 and len(n) == 4 for f, n in batches)
    seen = torch.cat([n for _, n in batches])
    assert set(seen.tolist()) == set(range(37))
    covered = torch.cat(list(datasets.iterate_batches(11, 4, generator=g)))
    assert sorted(covered.tolist()) == list(range(11))
    assert datasets.shard_indices(10, rank=1, world_size=3).tolist() == [1, 4, 7, 0]
    shards = [datasets.shard_indices(10, rank=r, world_size=3).tolist() for r in range(3)]
    assert [len(s) for s in shards] == [4, 4, 4]                 # equal: same number of batches
    assert sorted(set(sum(shards, []))) == list(range(10))        # every image in some shard
    assert datasets.shard_indices(6, rank=1, world_size=2).tolist() == [1, 3, 5]
