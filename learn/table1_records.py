"""Table 1 results as plain data, so that a results folder is read without unpickling anything.

:func:`to_plain` turns a finished task's result -- a :class:`learn.table1_results.RowResult` or
a ``learn.evaluation.EvaluationResult``, the dataclasses inside them and a row's camera -- into
plain values: None, bool, int, float, str, lists, tensors and tagged dicts
``{"kind": "tuple" | "dict" | "dataclass" | "camera", ...}``. ``canopic.core.cache``'s torch
codec stores them and reads them back with ``torch.load(weights_only=True)``
(``learn.table1_cache.TaskCache``). :func:`from_plain` builds the result again; it builds only
the dataclasses of :data:`DATACLASSES` (an allow-list, each with exactly its own fields) and
``sensor.Camera``: a file cannot name a class to import or code to run.

A camera is kept as its ``sensor.CameraConfig`` fields and its ``state_dict`` (tensors, on the
CPU) and rebuilt the way it was built -- ``Camera(CameraConfig)`` for unlearned and learned
cameras, ``sensor.load_published_camera`` for a published encoder (by name: only the bundled
ones) -- then given the saved tensors, so it computes what the saved camera computed.
"""
from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import torch

from learn.evaluation import AttackScore, EvaluationResult, PrivacyResult, Spread, UtilityResult
from learn.table1_results import RowResult
from learn.table1_rows import Row
from learn.verification import VerificationResult, VerificationScore

#: The dataclasses a record may hold, by class name; nothing else is built from a file.
DATACLASSES = {cls.__name__: cls for cls in (Row, RowResult, EvaluationResult, PrivacyResult,
                                             AttackScore, UtilityResult, Spread,
                                             VerificationResult, VerificationScore)}


def to_plain(value: Any) -> Any:
    """``value`` as plain data (module docstring); :func:`from_plain` gives it back.

    Numbers become Python ``int``/``float`` (numpy scalars included), lists stay lists, tuples
    and dicts (string keys) become tagged dicts, dataclasses of :data:`DATACLASSES` their fields,
    a ``sensor.Camera`` :func:`camera_to_plain`'s record; tensors are kept (on the CPU).

    Raises
    ------
    TypeError
        Any other type (a dataclass outside the allow-list, a dict with other keys, ...).
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, tuple):
        return {"kind": "tuple", "items": [to_plain(item) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError(f"to_plain: dict keys must be strings, got {sorted(map(repr, value))}")
        return {"kind": "dict", "items": {key: to_plain(item) for key, item in value.items()}}
    if isinstance(value, torch.nn.Module):
        return camera_to_plain(value)
    if DATACLASSES.get(type(value).__name__) is type(value):
        return {"kind": "dataclass", "class": type(value).__name__,
                "fields": {field.name: to_plain(getattr(value, field.name))
                           for field in dataclasses.fields(value)}}
    raise TypeError(f"to_plain: a {type(value).__name__} is not a Table 1 result value")


def from_plain(value: Any) -> Any:
    """The value :func:`to_plain` made ``value`` from.

    Raises
    ------
    ValueError, KeyError, TypeError, RuntimeError
        ``value`` is not such plain data: an unknown tag, a class outside :data:`DATACLASSES`,
        other fields than the class's, a camera whose tensors do not fit its config.
    """
    if value is None or isinstance(value, (bool, int, float, str, torch.Tensor)):
        return value
    if isinstance(value, list):
        return [from_plain(item) for item in value]
    if not isinstance(value, dict):
        raise TypeError(f"from_plain: a {type(value).__name__} is not plain data")
    kind = value.get("kind")
    if kind == "tuple":
        return tuple(from_plain(item) for item in _checked(value["items"], list))
    if kind == "dict":
        return {str(key): from_plain(item)
                for key, item in _checked(value["items"], dict).items()}
    if kind == "camera":
        return camera_from_plain(value)
    if kind == "dataclass":
        cls = DATACLASSES[str(value["class"])]
        fields = _checked(value["fields"], dict)
        names = [field.name for field in dataclasses.fields(cls)]
        if sorted(fields) != sorted(names):
            raise ValueError(f"from_plain: {cls.__name__} has fields {names}, the record "
                             f"{sorted(fields)}")
        return cls(**{name: from_plain(fields[name]) for name in names})
    raise ValueError(f"from_plain: unknown kind {kind!r}")


def _checked(value: Any, kind: type) -> Any:
    if not isinstance(value, kind):
        raise TypeError(f"from_plain: expected a {kind.__name__}, got a {type(value).__name__}")
    return value


def camera_to_plain(camera: torch.nn.Module) -> dict:
    """A ``sensor.Camera`` as ``{"kind": "camera", "config", "state_dict", "training",
    "published", "published_exact"}``: its config fields (plain data), its parameters and
    buffers (CPU tensors, their own dtypes), its train/eval mode and, for a published encoder,
    its name and whether its thresholds are exact (``sensor.load_published_camera``)."""
    from sensor import Camera

    if not isinstance(camera, Camera):
        raise TypeError(f"camera_to_plain: a {type(camera).__name__} is not a sensor.Camera")
    published = getattr(camera, "published_name", None)
    return {"kind": "camera", "config": to_plain(camera.config.to_dict()),
            "state_dict": {name: tensor.detach().cpu().clone()
                           for name, tensor in camera.state_dict().items()},
            "training": bool(camera.training), "published": published,
            "published_exact": bool(getattr(camera, "published_exact", True))}


def camera_from_plain(record: dict) -> torch.nn.Module:
    """The ``sensor.Camera`` of a :func:`camera_to_plain` record, on the CPU.

    A published encoder is loaded by name (only the bundled encoders of
    ``sensor.published.published_names``), any other camera built from its config; then the
    saved tensors are loaded (strictly: every parameter and buffer, same shapes).
    """
    from sensor import Camera, CameraConfig, load_published_camera
    from sensor.published import published_names

    published = record["published"]
    if published is not None:
        if published not in published_names():
            raise ValueError(f"camera record: {published!r} is not a bundled published encoder")
        camera = load_published_camera(published, exact=bool(record["published_exact"]))
    else:
        camera = Camera(CameraConfig.from_dict(_checked(from_plain(record["config"]), dict)))
    camera.load_state_dict(_checked(record["state_dict"], dict))
    return camera.train(bool(record["training"]))


__all__ = ["DATACLASSES", "camera_from_plain", "camera_to_plain", "from_plain", "to_plain"]
