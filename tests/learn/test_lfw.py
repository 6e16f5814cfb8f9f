"""learn.lfw: the bundled LFW protocol read as published, roles that never leak a person."""
from __future__ import annotations

import numpy as np
import pytest

from learn.lfw import Roles, check_disjoint, identity_roles, load_lfw

PEOPLE = {"Ann_A": 3, "Bob_B": 2, "Cid_C": 1, "Dee_D": 2}


def write_bundle(path, drop=(), pairs_dev_test=None, files=None):
    """A tiny LFW-format bundle (4 people, 8 images) with every protocol array."""
    import cv2

    names = sorted(PEOPLE)
    blobs, labels, file_names = [], [], []
    for label, name in enumerate(names):
        for n in range(1, PEOPLE[name] + 1):
            image = np.full((64, 64, 3), 30 * label + n, dtype=np.uint8)
            blobs.append(cv2.imencode(".jpg", image)[1].ravel())
            labels.append(label)
            file_names.append(f"images/{name}/{name}_{n:04d}.jpg")
    offsets = np.cumsum([0] + [b.size for b in blobs])
    arrays = {
        "jpeg": np.concatenate(blobs), "jpeg_offsets": offsets.astype(np.int64),
        "labels": np.asarray(labels, dtype=np.int32), "names": np.asarray(names),
        "files": np.asarray(files or file_names),
        "people": np.asarray(["4"] + [f"{n}\t{c}" for n, c in PEOPLE.items()]),
        "peopleDevTrain": np.asarray(["2", "Ann_A\t3", "Bob_B\t2"]),
        "peopleDevTest": np.asarray(["2", "Cid_C\t1", "Dee_D\t2"]),
        "pairs": np.asarray(["1\t1", "Ann_A\t1\t2", "Ann_A\t1\tBob_B\t2"]),
        "pairsDevTrain": np.asarray(["1", "Ann_A\t2\t3", "Ann_A\t3\tBob_B\t1"]),
        "pairsDevTest": np.asarray(pairs_dev_test or ["1", "Dee_D\t1\t2", "Cid_C\t1\tDee_D\t2"]),
    }
    np.savez(path, **{k: v for k, v in arrays.items() if k not in drop})
    return path


def test_pairs_and_people_are_read_as_published(tmp_path):
    lfw = load_lfw(write_bundle(tmp_path / "lfw.npz"))
    pairs = lfw.pairs("pairsDevTest")
    assert pairs.same.tolist() == [True, False]
    names = [lfw.names[lfw.labels[i]] for i in (*pairs.first, *pairs.second)]
    assert names == ["Dee_D", "Cid_C", "Dee_D", "Dee_D"]
    assert [int(lfw.numbers[i]) for i in (*pairs.first, *pairs.second)] == [1, 1, 2, 2]
    assert lfw.people("peopleDevTrain") == {"Ann_A": 3, "Bob_B": 2}


def test_the_bundled_view1_and_view2_have_the_published_sizes():
    lfw = load_lfw()
    assert lfw.images.shape == (13233, 64, 64, 3) and len(lfw.names) == 5749
    assert len(lfw.people("peopleDevTrain")) == 4038 and len(lfw.people("peopleDevTest")) == 1711
    dev_test = lfw.pairs("pairsDevTest")
    assert (len(dev_test), int(dev_test.same.sum())) == (1000, 500)
    view2 = lfw.pairs("pairs")
    assert len(view2) == 6000 and np.bincount(view2.fold).tolist() == [600] * 10
    # View 1 is person-disjoint, as LFW publishes it
    train_people = set(lfw.people("peopleDevTrain"))
    assert not train_people & set(lfw.people("peopleDevTest"))
    assert not {lfw.names[label] for label in dev_test.people(lfw.labels)} & train_people


def test_no_person_is_in_two_roles_and_no_test_image_is_in_e_or_a():
    lfw = load_lfw()
    roles = identity_roles(lfw, seed=0)
    encoder, attacker = set(roles.encoder), set(roles.attacker)
    tested = set(roles.verification) | set(roles.identification)
    assert encoder and attacker and not encoder & attacker and not (encoder | attacker) & tested
    from learn.verification import test_pairs_of

    scored = test_pairs_of(lfw, roles)
    assert {lfw.names[label] for label in scored.people(lfw.labels)} <= set(roles.verification)
    assert (len(scored), int(scored.same.sum())) == (946, 473)
    from learn.datasets import load_faces

    faces64 = set(load_faces("faces64_wide").names)
    assert not faces64 & set(roles.verification)
    assert len(encoder) + len(attacker) == 4038 - 46        # peopleDevTrain less faces64_wide's
    assert identity_roles(lfw, seed=1).encoder != roles.encoder
    assert identity_roles(lfw, seed=0) == roles


def test_a_role_split_that_leaks_a_person_is_refused():
    leaky = Roles(encoder=("Ann_A", "Bob_B"), attacker=("Bob_B",), verification=("Cid_C",),
                  identification=())
    with pytest.raises(ValueError, match="leak.*E \\(encoder\\) and A \\(attacker\\).*Bob_B"):
        leaky.check()
    with pytest.raises(ValueError, match="A \\(attacker\\) and T \\(verification\\).*Cid_C"):
        Roles(("Ann_A",), ("Cid_C",), ("Cid_C",), ()).check()
    check_disjoint({"x": ["a"], "y": ["a"]}, allowed=[frozenset({"x", "y"})])   # allowed overlap


@pytest.mark.parametrize("case, message", [
    ("missing_array", "missing protocol array.*pairsDevTest"),
    ("unknown_person", "pairsDevTest line 2: unknown person 'Eve_E'"),
    ("missing_image", "pairsDevTest line 3: Dee_D has no image 7"),
    ("bad_line", "pairsDevTest line 2: 'Dee_D' is neither"),
    ("wrong_count", "pairsDevTest: 1 pairs; the header promises"),
    ("bad_number", "pairsDevTest line 2: .* image number that is not a whole number"),
    ("bad_file_name", "files\\[0\\].*is not '<name>/<name>_<n>.jpg'"),
])
def test_bad_bundles_give_one_error_naming_the_file_and_the_entry(tmp_path, case, message):
    kwargs = {
        "missing_array": dict(drop=("pairsDevTest",)),
        "unknown_person": dict(pairs_dev_test=["1", "Eve_E\t1\t2", "Cid_C\t1\tDee_D\t2"]),
        "missing_image": dict(pairs_dev_test=["1", "Dee_D\t1\t2", "Cid_C\t1\tDee_D\t7"]),
        "bad_line": dict(pairs_dev_test=["1", "Dee_D", "Cid_C\t1\tDee_D\t2"]),
        "wrong_count": dict(pairs_dev_test=["1", "Dee_D\t1\t2"]),
        "bad_number": dict(pairs_dev_test=["1", "Dee_D\tone\t2", "Cid_C\t1\tDee_D\t2"]),
        "bad_file_name": dict(files=["images/Ann_A/photo.jpg"] + [
            f"images/x/{n}_{i:04d}.jpg" for n in sorted(PEOPLE) for i in range(1, PEOPLE[n] + 1)
        ][1:]),
    }[case]
    path = write_bundle(tmp_path / f"{case}.npz", **kwargs)
    with pytest.raises(ValueError, match=message) as error:
        load_lfw(path).pairs("pairsDevTest")
    assert str(path.name) in str(error.value)


def test_the_identification_people_are_table1s_evaluation_identities():
    from learn.datasets import evaluation_identities, load_faces, load_nonfaces, make_splits

    faces = load_faces("faces64_wide")
    for seed in (0, 2):
        assert evaluation_identities(faces.labels, faces.names, seed=seed) == make_splits(
            faces, load_nonfaces(), seed=seed).eval_identities
    assert identity_roles(load_lfw()).identification == evaluation_identities(
        faces.labels, faces.names, seed=0)
