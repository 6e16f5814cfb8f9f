"""The synthetic scene data set: determinism, geometry, blending and identity hygiene."""
import numpy as np
import pytest

from learn.detection.scenes import (WIDE_FACE_BOX, SceneConfig, _alpha, detection_scene_sets,
                                    make_scenes)


def _toy_faces(count=5):
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (count, 64, 64, 3), dtype=np.uint8)


def test_wide_face_box_matches_the_documented_crop():
    # PROVENANCE.md: tight box (61, 68, 189, 196) inside the wide box (22, 29, 227, 234) of 250 px
    np.testing.assert_allclose(WIDE_FACE_BOX, np.array([39, 39, 167, 167]) * 64 / 205)


def test_scenes_are_seeded_and_boxes_follow_the_config():
    config = SceneConfig(size=128, min_face=16, max_face=40, max_faces=4)
    backgrounds = np.full((3, 64, 64, 3), 90, np.uint8)
    a = make_scenes(_toy_faces(), backgrounds, 30, config, seed=3)
    b = make_scenes(_toy_faces(), backgrounds, 30, config, seed=3)
    c = make_scenes(_toy_faces(), backgrounds, 30, config, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.images, c.images)
    counts = [len(boxes) for boxes in a.boxes]
    assert max(counts) <= 4 and min(counts) == 0 and a.num_faces > 30
    for boxes in a.boxes:
        sides = boxes[:, 2:] - boxes[:, :2]
        assert np.all(boxes >= 0) and np.all(boxes <= 128)
        # rounding the patch to whole pixels changes the side by < 1 px
        assert np.all(sides > 16 - 1) and np.all(sides < 40 + 1)
        np.testing.assert_allclose(sides[:, 0], sides[:, 1])
        for i in range(len(boxes)):
            for j in range(i):
                overlap_x = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
                overlap_y = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
                assert overlap_x <= 0 or overlap_y <= 0


def test_feathered_paste_has_no_patch_edge():
    """On a flat background the pasted face is opaque at its centre and leaves no patch edge."""
    config = SceneConfig(size=128, min_face=40, max_face=40, max_faces=1)
    face = np.full((1, 64, 64, 3), 250, np.uint8)
    background = np.full((1, 64, 64, 3), 10, np.uint8)
    scenes = make_scenes(face, background, 20, config, seed=0)
    index = next(i for i, b in enumerate(scenes.boxes) if len(b))
    image, (x1, y1, x2, y2) = scenes.images[index].astype(int), scenes.boxes[index][0]
    cx, cy = int((x1 + x2) / 2), int((y1 + y2) / 2)
    assert image[cy, cx, 0] == 250
    # the patch is 64 px: everything 0.85 * side from the centre vertically is background
    far = int(np.ceil(0.85 * 40 + 1))
    for y in (cy - far, cy + far):
        if 0 <= y < 128:
            assert np.all(image[y, :, 0] == 10)
    # alpha falls smoothly: along the row through the centre it never jumps by more than 1/3
    alpha = _alpha(64, (32.0, 32.0), 40.0, config)
    assert alpha[32, 32] == 1.0 and alpha[0, 0] == 0.0 and alpha[32, 0] == 0.0
    assert np.max(np.abs(np.diff(alpha[32]))) < 1 / 3


def test_bad_configs_are_named():
    with pytest.raises(ValueError, match="size"):
        SceneConfig(size=100)
    with pytest.raises(ValueError, match="min_face"):
        SceneConfig(size=64, min_face=16, max_face=48)
    with pytest.raises(ValueError, match="count"):
        make_scenes(_toy_faces(), _toy_faces(), 0)


def test_identity_disjoint_train_and_test_scenes():
    from learn.datasets import default_splits

    splits = default_splits(seed=0)
    config = SceneConfig(size=128, max_faces=3)
    train, test = detection_scene_sets(splits, 40, 20, config, seed=0)
    train_faces = np.concatenate([splits.encoder_train.images, splits.encoder_val.images])
    used_train = np.unique(np.concatenate(train.face_index))
    used_test = np.unique(np.concatenate(test.face_index))
    eval_names = set(splits.eval_identities)
    assert used_train.max() < len(train_faces) and used_test.max() < len(splits.eval_test)
    # the people actually pasted, by their source files (LFW paths name the person)
    train_files = splits.encoder_train.files + splits.encoder_val.files
    train_people = {train_files[i].split("/")[-2] for i in used_train}
    test_people = {splits.eval_test.files[i].split("/")[-2] for i in used_test}
    assert test_people and train_people and not train_people & test_people
    assert test_people <= eval_names and not train_people & eval_names
