"""learn.encoder_faces: the encoder learns from LFW's role E, never from an attacked or tested person."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from learn import datasets
from learn.encoder_faces import lfw_encoder_faces, with_encoder_faces
from learn.lfw import identity_roles, load_lfw


@pytest.fixture(scope="module")
def lfw():
    return load_lfw()


@pytest.fixture(scope="module")
def faces(lfw):
    return lfw_encoder_faces(lfw=lfw)


def _people_of(face_set) -> set:
    """Person names read from the file names (independent of the labels)."""
    return {file.split("/")[0] for file in face_set.files}


def test_encoder_faces_are_role_e_people_with_two_images_each_held_out_by_image(lfw, faces):
    train, val = faces
    roles = identity_roles(lfw)
    # counted here from LFW's own people list, not from the module's selection
    dev_train = lfw.people("peopleDevTrain")
    expected = sorted(name for name in roles.encoder if dev_train[name] >= 2)
    assert list(train.names) == list(val.names) == expected
    assert len(expected) > 500 and len(train) + len(val) > 2000     # hundreds, thousands
    assert _people_of(train) == _people_of(val) == set(expected)
    assert not _people_of(train) & (set(roles.attacker) | set(roles.verification)
                                    | set(roles.identification))
    assert not set(train.files) & set(val.files)                    # no image in both parts
    for part in (train, val):                                       # labels name the file's person
        assert all(part.names[label] == file.split("/")[0]
                   for label, file in zip(part.labels, part.files))
    assert np.bincount(train.labels, minlength=len(expected)).min() >= 1
    assert np.bincount(val.labels, minlength=len(expected)).min() >= 1
    # the images are LFW's, pixel for pixel
    index = lfw.image(train.files[0].split("/")[0],
                      int(train.files[0].rsplit("_", 1)[1].split(".")[0]))
    assert np.array_equal(train.images[0], lfw.images[index])


def test_the_split_follows_its_seed(lfw, faces):
    again = lfw_encoder_faces(lfw=lfw)
    other = lfw_encoder_faces(lfw=lfw, seed=1)
    assert again[1].files == faces[1].files
    assert other[1].files != faces[1].files and other[1].names == faces[1].names


def test_with_encoder_faces_replaces_only_the_encoder_parts():
    splits = datasets.default_splits(0)
    replaced = with_encoder_faces(splits, "lfw-e")
    assert replaced.encoder_train.num_classes > 500
    for name in ("eval_train", "eval_val", "eval_test", "nonfaces_encoder"):
        assert getattr(replaced, name) is getattr(splits, name)
    assert with_encoder_faces(splits, "faces") is splits


def test_an_evaluation_identity_in_role_e_is_refused(lfw, faces):
    splits = datasets.default_splits(0)
    e_person = faces[0].names[0]
    leaking = dataclasses.replace(splits, eval_train=dataclasses.replace(
        splits.eval_train, names=(e_person,) + splits.eval_train.names[1:]))
    with pytest.raises(ValueError, match="leak.*" + e_person):
        with_encoder_faces(leaking, "lfw-e")


def test_bad_settings_are_refused_by_name(lfw):
    with pytest.raises(ValueError, match="encoder faces: 'lfw'"):
        with_encoder_faces(datasets.default_splits(0), "lfw")
    with pytest.raises(ValueError, match="min_images"):
        lfw_encoder_faces(lfw=lfw, min_images=1)
    with pytest.raises(ValueError, match="val_fraction"):
        lfw_encoder_faces(lfw=lfw, val_fraction=1.0)


def test_a_training_run_learns_from_role_e_and_never_sees_an_attacked_or_tested_person(lfw):
    import torch

    from learn.runs import _training_data, smoke_config

    config = smoke_config()
    assert config.data.encoder_faces == "auto"    # the bundled set: role E
    data = _training_data(config, torch.device("cpu"), 0, 1)
    train, val = lfw_encoder_faces(lfw=lfw)
    assert data.num_identities == train.num_classes
    # every training and validation face of R is an image of role E, compared pixel for pixel
    role_e = {bytes(image) for image in np.concatenate([train.images, val.images])}
    for tensor in (data.faces, data.faces_val):
        srgb = datasets.to_srgb_uint8(tensor)
        assert all(bytes(image) in role_e for image in srgb)
    with pytest.raises(ValueError, match="data.encoder_faces"):
        config.updated("data", encoder_faces="nope")


def test_encoder_faces_take_the_side_of_the_split(lfw):
    splits = datasets.make_splits(datasets.load_faces(image_size=32),
                                  datasets.load_nonfaces(image_size=32), seed=0)
    replaced = with_encoder_faces(splits, "lfw-e")
    assert replaced.encoder_train.images.shape[1:] == (32, 32, 3)
    assert replaced.encoder_val.images.shape[1:] == (32, 32, 3)


def test_auto_learns_from_role_e_for_the_bundled_sets_and_from_a_users_own_people():
    from learn.encoder_faces import resolve_encoder_faces

    assert resolve_encoder_faces("auto", "faces64_wide") == "lfw-e"
    assert resolve_encoder_faces("auto", "/data/my_faces") == "faces"
    assert resolve_encoder_faces("lfw-e", "/data/my_faces") == "lfw-e"
    with pytest.raises(ValueError, match="'auto'"):
        with_encoder_faces(datasets.default_splits(0), "auto")
