"""WIDER FACE, FDDB and COCO annotation files: hand-written examples, round trips, bad files."""
import json
import math

import numpy as np
import pytest

from learn.detection.annotations import (ImageAnnotation, ellipse_bounding_box, read_annotations,
                                         read_coco, read_fddb, read_wider, write_coco, write_fddb,
                                         write_wider)

WIDER = """0--Parade/0_Parade_marchingband_1_849.jpg
1
449 330 122 149 0 0 0 0 0 0 
0--Parade/empty.jpg
0
0 0 0 0 0 0 0 0 0 0 
1--Handshaking/two.jpg
2
10 20 30 40 1 0 0 0 1 0 
5 6 7 8 0 0 0 1 0 0 
"""

FDDB = """2002/08/11/big/img_591
1
123.583300 85.549500 1.265839 269.693400 161.781200  1
2002/08/26/big/img_265
2
10 5 0 100 50  1
10 5 1.5707963267948966 200 50  1
"""

COCO = {"images": [{"id": 7, "file_name": "a.jpg", "width": 100, "height": 80},
                   {"id": 9, "file_name": "b.jpg"}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 40]},
                        {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 5, 5]},
                        {"id": 3, "image_id": 9, "category_id": 1, "bbox": [1.5, 2.5, 3, 4],
                         "iscrowd": 1}],
        "categories": [{"id": 1, "name": "face"}, {"id": 2, "name": "person"}]}


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return path


def test_wider_hand_written(tmp_path):
    images = read_wider(_write(tmp_path, "bbx_gt.txt", WIDER))
    assert [i.file_name for i in images] == ["0--Parade/0_Parade_marchingband_1_849.jpg",
                                             "0--Parade/empty.jpg", "1--Handshaking/two.jpg"]
    np.testing.assert_array_equal(images[0].boxes, [[449, 330, 571, 479]])
    assert images[1].boxes.shape == (0, 4)
    np.testing.assert_array_equal(images[2].boxes, [[10, 20, 40, 60], [5, 6, 12, 14]])
    np.testing.assert_array_equal(images[2].ignore, [False, True])   # the 'invalid' flag


def test_fddb_hand_written_and_ellipse_bounds(tmp_path):
    images = read_fddb(_write(tmp_path, "ellipseList.txt", FDDB))
    assert [i.file_name for i in images] == ["2002/08/11/big/img_591", "2002/08/26/big/img_265"]
    # angle 0: major radius along x; angle pi/2: along y
    np.testing.assert_allclose(images[1].boxes, [[90, 45, 110, 55], [195, 40, 205, 60]],
                               atol=1e-9)
    # the rotated ellipse: compare with the extremes of 100000 points on its outline
    a, b, angle, cx, cy = images[0].ellipses[0]
    t = np.linspace(0, 2 * math.pi, 100000)
    x = cx + a * np.cos(angle) * np.cos(t) - b * np.sin(angle) * np.sin(t)
    y = cy + a * np.sin(angle) * np.cos(t) + b * np.cos(angle) * np.sin(t)
    np.testing.assert_allclose(images[0].boxes[0], [x.min(), y.min(), x.max(), y.max()],
                               atol=1e-4)


def test_coco_hand_written(tmp_path):
    path = _write(tmp_path, "instances.json", COCO)
    faces = read_coco(path, category="face")
    np.testing.assert_array_equal(faces[0].boxes, [[10, 20, 40, 60]])
    np.testing.assert_array_equal(faces[1].boxes, [[1.5, 2.5, 4.5, 6.5]])
    assert faces[1].ignore.tolist() == [True]
    assert (faces[0].width, faces[0].height) == (100, 80)
    everything = read_annotations(path, "coco")
    assert len(everything[0].boxes) == 2


@pytest.mark.parametrize("fmt", ["wider", "fddb", "coco"])
def test_round_trip(tmp_path, fmt):
    rng = np.random.default_rng(0)
    images = []
    for n in range(4):
        if fmt == "fddb":
            ellipses = np.column_stack([rng.uniform(10, 40, n), rng.uniform(5, 10, n),
                                        rng.uniform(-1.5, 1.5, n), rng.uniform(50, 200, (n, 2))])
            ellipses = np.round(ellipses, 6)
            images.append(ImageAnnotation(f"img_{n}", ellipse_bounding_box(ellipses),
                                          ellipses=ellipses))
        else:
            xy = rng.integers(0, 100, (n, 2)).astype(float)
            boxes = np.concatenate([xy, xy + rng.integers(5, 50, (n, 2))], 1)
            images.append(ImageAnnotation(f"dir/img_{n}.jpg", boxes, ignore=rng.random(n) < 0.3,
                                          width=320, height=240))
    path = tmp_path / f"annotations.{fmt}"
    {"wider": write_wider, "fddb": write_fddb, "coco": write_coco}[fmt](path, images)
    back = read_annotations(path, fmt)
    assert [i.file_name for i in back] == [i.file_name for i in images]
    for original, loaded in zip(images, back):
        np.testing.assert_allclose(loaded.boxes, original.boxes, atol=1e-5)
        if fmt != "fddb":
            np.testing.assert_array_equal(loaded.ignore, original.ignore)


@pytest.mark.parametrize("text, message", [
    ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "ends where"),
    ("a.jpg\ntwo\n", "face count"),
    ("a.jpg\n1\n1 2 3 4 0 0\n", "line 3: expected 10 numbers"),
    ("a.jpg\n1\n1 2 -3 4 0 0 0 0 0 0\n", "line 3: box width"),
])
def test_bad_wider_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_wider(_write(tmp_path, "bad.txt", text))


@pytest.mark.parametrize("text, message", [
    ("img\n1\n1 2 3 4 5\n", "line 3: expected 6 numbers"),
    ("img\n1\n-1 2 0 4 5 1\n", "radii"),
    ("img\n-1\n", "must be >= 0"),
])
def test_bad_fddb_files(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        read_fddb(_write(tmp_path, "bad.txt", text))


def test_bad_coco_files(tmp_path):
    with pytest.raises(ValueError, match="not valid JSON"):
        read_coco(_write(tmp_path, "a.json", "{oops"))
    broken = json.loads(json.dumps(COCO))
    del broken["annotations"][0]["bbox"]
    with pytest.raises(ValueError, match=r"annotations\[0\] has no 'bbox'"):
        read_coco(_write(tmp_path, "b.json", broken))
    broken = json.loads(json.dumps(COCO))
    broken["annotations"][0]["image_id"] = 99
    with pytest.raises(ValueError, match="image_id 99"):
        read_coco(_write(tmp_path, "c.json", broken))
    with pytest.raises(ValueError, match="category: 'dog'"):
        read_coco(_write(tmp_path, "d.json", COCO), category="dog")
    with pytest.raises(FileNotFoundError):
        read_coco(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="fmt"):
        read_annotations(tmp_path / "d.json", "voc")
