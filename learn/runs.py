"""Training runs: config files, checkpoints, resume, metrics log, the design bundle at the end.

A run lives in one output folder::

    config.json        the resolved run config (every default filled in)
    checkpoint.pt      after every alternation: camera, R, D, RNG states, metrics so far
                       (torch.save of tensors and plain types; loaded with weights_only=True)
    metrics.jsonl      one JSON line per alternation (losses, accuracies, hardness, thresholds)
    design/            the learned camera as a design bundle (sensor.design_bundle), rewritten
                       after every alternation (with ``[training] select = "validation"``, the
                       alternation selected so far; learn.alternating)

Config files are JSON or TOML with four sections and two scalars (unknown keys are an error)::

    seed = 0                     # networks' init, batch order, camera noise
    device = "auto"              # "auto" (CUDA when present), "cpu", "cuda", "cuda:1"
    [camera]                     # sensor.CameraConfig fields, e.g. conv = "conv4"
    [training]                   # learn.alternating.AlternatingSettings fields, e.g. alpha = 1.0
    [data]                       # DataSettings fields: sources and the identity split

An alpha sweep is one process per alpha (each its own folder)::

    for a in 0 1 10 100; do canopic train --config run.toml --alpha $a --out runs/alpha_$a & done; wait

torchrun works too (``torchrun --nproc_per_node 2 -m canopic train ...``): every rank trains on its
shard and averages gradients; rank 0 writes the files.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Optional

import torch

from canopic.core import files
from canopic.core.cache import fingerprint
from learn import datasets
from learn.alternating import AlternatingSettings, AlternatingTrainer, TrainingData, world
from learn.encoder_faces import (ENCODER_FACE_SOURCES, resolve_encoder_faces,
                                 with_encoder_faces)
from sensor.design_bundle import save_design_bundle

CHECKPOINT_FORMAT = "canopic-train-checkpoint"
CHECKPOINT_VERSION = 1
#: Settings that may change when a run is resumed (everything else must match the checkpoint).
RESUMABLE_CHANGES = (("training", "alternations"), ("device",))
#: Fields added after runs were already written, (section, field) -> the value that means "as
#: before": left out of the fingerprint while they hold it, so those runs still resume.
LATER_FIELDS = {("training", "judge_folds"): 0, ("training", "judge_detector_epochs"): 0,
                ("training", "closed_form_shots"): 1, ("camera", "psf_parameterisation"): "taps"}

#: Named training profiles (overrides of AlternatingSettings). "paper" = the authors' schedule.
PROFILES = {
    "paper": {"alternations": 20, "encoder_epochs": 10, "recogniser_epochs": 100,
              "recogniser_patience": 10, "detector_epochs": 10, "steps_per_epoch": None,
              "order": "encoder_first", "hardness_slope": 5.0, "encoder_lr": 1e-2},
    "quick": {"alternations": 4, "encoder_epochs": 1, "recogniser_epochs": 15,
              "recogniser_patience": 4, "detector_epochs": 2, "steps_per_epoch": 25,
              "order": "networks_first", "hardness_slope": 10.0},
}


@dataclasses.dataclass
class DataSettings:
    """Where the images come from and how they are split (see ``learn.datasets``).

    Attributes
    ----------
    faces, nonfaces : str
        Bundled names or paths (``.npz`` or folders).
    split_seed : int
        Seed of the identity split (kept apart from the run's seed so that every run and the
        evaluation share one split).
    n_eval_identities, cap_per_identity : int
        Passed to ``learn.datasets.make_splits``.
    max_nonfaces : int or None
        Use only the first ``max_nonfaces`` of the encoder's no-face part (tiny test runs).
    max_faces : int or None
        Use only the first ``max_faces`` encoder training faces (tiny test runs).
    encoder_faces : str
        Where the encoder's labelled faces come from (``learn.encoder_faces``): ``"lfw-e"``
        (LFW's role E: 572 people, 2,180 images), ``"faces"`` (the face set's own encoder
        identities: 32 people of ``faces64_wide``) or ``"auto"`` (the default: ``"lfw-e"`` for
        the bundled face sets, ``"faces"`` for a user's own).
    """

    faces: str = "faces64_wide"
    nonfaces: str = "nonfaces64"
    split_seed: int = 0
    n_eval_identities: int = 30
    cap_per_identity: int = 40
    max_nonfaces: Optional[int] = None
    max_faces: Optional[int] = None
    encoder_faces: str = "auto"

    def __post_init__(self) -> None:
        if self.encoder_faces not in ENCODER_FACE_SOURCES:
            raise ValueError(f"data.encoder_faces: {self.encoder_faces!r} is not allowed; choose "
                             f"one of {list(ENCODER_FACE_SOURCES)}")
        for name in ("max_nonfaces", "max_faces"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 2):
                raise ValueError(f"data.{name}: {value!r} is not allowed; need None or an integer >= 2")


def _build(cls, values: Any, section: str):
    if not isinstance(values, dict):
        raise ValueError(f"config [{section}]: expected a table of settings, got {type(values).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"config [{section}]: unknown keys {unknown}; known keys: {sorted(known)}")
    return cls(**values)


@dataclasses.dataclass
class RunConfig:
    """One training run (see the module docstring for the file format)."""

    camera: Any = None  # sensor.CameraConfig
    training: AlternatingSettings = dataclasses.field(default_factory=AlternatingSettings)
    data: DataSettings = dataclasses.field(default_factory=DataSettings)
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        from sensor import CameraConfig

        if self.camera is None:
            self.camera = CameraConfig()
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed: {self.seed!r} is not allowed; need an integer >= 0")
        if not isinstance(self.device, str) or not (
                self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device: {self.device!r} is not allowed; need 'auto', 'cpu', 'cuda' "
                             f"or 'cuda:N'")

    @classmethod
    def from_dict(cls, values: dict) -> "RunConfig":
        """Build from nested dicts; unknown keys anywhere are a ValueError naming them."""
        from sensor import CameraConfig

        if not isinstance(values, dict):
            raise ValueError(f"config: expected a table of settings, got {type(values).__name__}")
        known = {"camera", "training", "data", "seed", "device"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; known keys: {sorted(known)}")
        camera = values.get("camera", {})
        if not isinstance(camera, dict):
            raise ValueError(f"config [camera]: expected a table of settings, got {type(camera).__name__}")
        return cls(camera=CameraConfig.from_dict(camera),
                   training=_build(AlternatingSettings, values.get("training", {}), "training"),
                   data=_build(DataSettings, values.get("data", {}), "data"),
                   seed=values.get("seed", 0), device=values.get("device", "auto"))

    def to_dict(self) -> dict:
        """Nested plain dicts (JSON-serialisable)."""
        return {"camera": self.camera.to_dict(), "training": dataclasses.asdict(self.training),
                "data": dataclasses.asdict(self.data), "seed": self.seed, "device": self.device}

    def updated(self, section: Optional[str] = None, **changes: Any) -> "RunConfig":
        """A copy with ``changes`` applied to ``section`` ("camera", "training", "data") or the top."""
        values = self.to_dict()
        (values[section] if section else values).update(changes)
        return RunConfig.from_dict(values)

    def fingerprint(self) -> str:
        """sha256 of the settings a resumed run must share with its checkpoint."""
        values = self.to_dict()
        for path in RESUMABLE_CHANGES:
            target = values
            for key in path[:-1]:
                target = target[key]
            target.pop(path[-1])
        for (section, field), before in LATER_FIELDS.items():
            if values[section].get(field) == before:
                values[section].pop(field)
        return fingerprint(values)


def smoke_config(conv: str = "conv4", **training: Any) -> RunConfig:
    """A seconds-long run on a sliver of the bundled data (smoke tests, CI, trying the CLI).

    ``training`` overrides AlternatingSettings fields.
    """
    settings = {"alternations": 2, "encoder_epochs": 1, "recogniser_epochs": 2,
                "recogniser_patience": 1, "detector_epochs": 1, "steps_per_epoch": 2,
                "batch_size": 8, "recogniser_width": 4, "detector_width": 4} | training
    return RunConfig.from_dict({"camera": {"conv": conv}, "training": settings,
                                "data": {"cap_per_identity": 4, "max_faces": 24,
                                         "max_nonfaces": 24},
                                "device": "cpu"})


def read_config_values(path) -> Any:
    """The settings a ``.json`` or ``.toml`` run config file holds, as written (sections as
    dicts; nothing checked but the syntax), except that a section naming every field but some
    of :data:`LATER_FIELDS` -- a run's own ``config.json`` written before those fields existed
    -- gets their "as before" values, so that run still resumes whatever the defaults."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"config: {str(path)!r} is a folder; expected a .json or .toml file")
    if not path.is_file():
        raise ValueError(f"config: file {str(path)!r} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"config: {str(path)!r} is not a text file ({error})") from None
    try:
        if path.suffix.lower() == ".toml":
            import tomllib

            values = tomllib.loads(text)
        elif path.suffix.lower() == ".json":
            values = json.loads(text)
        else:
            raise ValueError(f"config: {str(path)!r} has suffix {path.suffix!r}; allowed: .json, .toml")
    except (json.JSONDecodeError, ValueError) as error:
        if str(error).startswith("config:"):
            raise
        raise ValueError(f"config: {str(path)!r} is not valid {path.suffix[1:].upper()} ({error})") from None
    return _later_fields_as_before(values)


def _later_fields_as_before(values: Any) -> Any:
    """``values`` with :data:`LATER_FIELDS` filled "as before" in sections that name every
    other field of theirs (:func:`read_config_values`)."""
    if not isinstance(values, dict):
        return values
    from sensor import CameraConfig

    kinds = {"camera": CameraConfig, "training": AlternatingSettings, "data": DataSettings}
    values = dict(values)
    for section, kind in kinds.items():
        table = values.get(section)
        later = {key: before for (where, key), before in LATER_FIELDS.items() if where == section}
        if not isinstance(table, dict) or not later.keys() - table.keys():
            continue
        others = {field.name for field in dataclasses.fields(kind)} - later.keys()
        if others <= table.keys():
            values[section] = {**later, **table}
    return values


def load_run_config(path, defaults: Optional[RunConfig] = None) -> RunConfig:
    """Read a run config from a ``.json`` or ``.toml`` file (unknown keys -> ValueError;
    :func:`read_config_values`).

    What the file leaves out comes from ``defaults`` (section by section; None:
    ``RunConfig()``'s, the authors' method), e.g. a recipe's settings (``canopic train``).
    """
    return merge_run_config(read_config_values(path), defaults, source=path)


def merge_run_config(values: Any, defaults: Optional[RunConfig] = None,
                     source="config") -> RunConfig:
    """The RunConfig of ``values`` (:func:`read_config_values`' result), what they leave out
    taken from ``defaults`` section by section (None: ``RunConfig()``'s); errors name
    ``source``."""
    if defaults is not None and isinstance(values, dict):
        base = defaults.to_dict()
        values = {key: ({**base[key], **value} if isinstance(base.get(key), dict)
                        and isinstance(value, dict) else value) for key, value in values.items()}
        values = {**base, **values}
    try:
        return RunConfig.from_dict(values)
    except (ValueError, TypeError) as error:
        raise ValueError(f"config {str(source)!r}: {error}") from None


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; 'cuda' without CUDA -> ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"device: {device!r} is not allowed; need 'auto', 'cpu', 'cuda' or 'cuda:N'")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested, but torch sees no CUDA device; use 'cpu' or 'auto'")
    return torch.device(device)


# --------------------------------------------------------------------------- checkpoints
def save_checkpoint(path, trainer: AlternatingTrainer, config: RunConfig, alternation: int,
                    metrics: list) -> None:
    """Write the state after ``alternation`` (0-based, completed) atomically to ``path``."""
    payload = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
               "fingerprint": config.fingerprint(), "alternation": int(alternation),
               "metrics_json": json.dumps(metrics), "trainer": trainer.state_dict()}
    with files.atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_checkpoint(path, config: Optional[RunConfig] = None) -> dict:
    """Read a checkpoint (weights_only=True) and check it belongs to ``config``.

    Raises
    ------
    ValueError
        Missing, corrupt, of another format or version, or written by another config.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint: {str(path)!r} not found; nothing to resume")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unpickling failure means a corrupt file
        raise ValueError(f"checkpoint: {str(path)!r} is corrupt or not a checkpoint "
                         f"({type(error).__name__}: {str(error).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint: {str(path)!r} is not a {CHECKPOINT_FORMAT} file")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint: {str(path)!r} has version {payload.get('version')!r}; this "
                         f"reader supports version {CHECKPOINT_VERSION}")
    if config is not None and payload.get("fingerprint") != config.fingerprint():
        raise ValueError(f"checkpoint: {str(path)!r} was written by a different config (only "
                         f"{['.'.join(p) for p in RESUMABLE_CHANGES]} may change on resume); "
                         f"resume with that run's own settings (--config <run>/config.json; "
                         f"runs made before the closed-form recipe became canopic train's "
                         f"default need --recipe paper, closed-form runs made before it learned "
                         f"factorised PSFs --psf-parameterisation taps, and --alpha 200 where "
                         f"they took the recipe's alpha), or pass "
                         f"--overwrite to start that run folder over")
    payload["metrics"] = json.loads(payload.pop("metrics_json"))
    return payload


# --------------------------------------------------------------------------- the run
@dataclasses.dataclass
class RunResult:
    """What :func:`train` returns: the learned camera, the trainer and the metrics per alternation.

    ``camera`` is ``trainer.design()``'s: the last alternation's, or the selected one's.
    """

    camera: Any
    trainer: AlternatingTrainer
    metrics: list
    out_dir: Path


def run_splits(config: RunConfig) -> "datasets.Splits":
    """The splits of ``config.data``: the identity split, with the encoder's faces from
    ``data.encoder_faces`` (the evaluation identities' parts are those ``canopic evaluate``
    reads)."""
    data = config.data
    splits = datasets.make_splits(datasets.load_faces(data.faces), datasets.load_nonfaces(data.nonfaces),
                                  seed=data.split_seed, n_eval_identities=data.n_eval_identities,
                                  cap_per_identity=data.cap_per_identity)
    return with_encoder_faces(splits, resolve_encoder_faces(data.encoder_faces, data.faces),
                              seed=data.split_seed)


def _training_data(config: RunConfig, device: torch.device, rank: int, size: int) -> TrainingData:
    data = config.data
    splits = run_splits(config)
    if data.max_faces is not None or data.max_nonfaces is not None:
        import numpy as np

        train = splits.encoder_train
        nonfaces = splits.nonfaces_encoder
        splits = dataclasses.replace(
            splits,
            encoder_train=train.subset(np.arange(min(len(train), data.max_faces or len(train)))),
            nonfaces_encoder=nonfaces.subset(np.arange(min(len(nonfaces),
                                                           data.max_nonfaces or len(nonfaces)))))
    return TrainingData.from_splits(splits, device=device, rank=rank, world_size=size,
                                    **config.training.judge())


def _maybe_init_distributed(device: torch.device) -> "tuple[int, int]":
    if "WORLD_SIZE" in os.environ and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return world()


def train(config: RunConfig, out_dir, resume: bool = False, progress: bool = True) -> RunResult:
    """Run (or resume) the alternating optimisation described by ``config`` into ``out_dir``.

    Parameters
    ----------
    config : RunConfig
    out_dir : path-like
        The run folder (see the module docstring).
    resume : bool
        Continue from ``out_dir/checkpoint.pt``; without it, an existing checkpoint is an error.
    progress : bool
        tqdm progress bars and a summary line per alternation.

    Returns
    -------
    RunResult
    """
    from sensor import Camera
    from sensor.camera import factorised_psf
    from tqdm import tqdm

    out_dir = Path(out_dir)
    checkpoint_path = out_dir / "checkpoint.pt"
    if checkpoint_path.exists() and not resume:
        raise ValueError(f"out: {str(out_dir)!r} already holds a run (checkpoint.pt); pass "
                         f"--resume to continue it or choose another folder")
    device = resolve_device(config.device)
    rank, size = _maybe_init_distributed(device)
    if device.type == "cuda" and size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    writer = rank == 0
    data = _training_data(config, device, rank, size)
    # a factorised PSF starts from factors of the run's seed (restarts start apart)
    source = (factorised_psf(config.camera, seed=config.seed)
              if config.camera.psf_parameterisation == "factorised" else None)
    trainer = AlternatingTrainer(Camera(config.camera, psf_source=source), data, config.training,
                                 seed=config.seed, device=device)
    start, metrics = 0, []
    if resume:
        state = load_checkpoint(checkpoint_path, config)
        trainer.load_state_dict(state["trainer"])
        start, metrics = state["alternation"] + 1, state["metrics"]
    if writer:
        files.write_json(out_dir / "config.json", config.to_dict())
        files.write_text(out_dir / "metrics.jsonl", "".join(json.dumps(m) + "\n" for m in metrics))
    settings = config.training
    for alternation in range(start, settings.alternations):
        with tqdm(total=trainer.images_per_alternation(), unit="img", leave=False,
                  disable=not (progress and writer),
                  desc=f"alternation {alternation + 1}/{settings.alternations}") as bar:
            result = trainer.run_alternation(alternation, progress=bar)
        metrics.append(result)
        if writer:
            save_checkpoint(checkpoint_path, trainer, config, alternation, metrics)
            with open(out_dir / "metrics.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps(result) + "\n")
            camera, chosen = trainer.design()  # the selected alternation with select="validation"
            chosen = alternation if chosen is None else chosen
            save_design_bundle(camera, out_dir / "design", alpha=settings.alpha,
                               seed=config.seed, extra={"alternation": chosen,
                                                        "training": dataclasses.asdict(settings),
                                                        "metrics": metrics[chosen]})
            if progress:
                tqdm.write(summary_line(result, settings.alternations))
    return RunResult(camera=trainer.design()[0], trainer=trainer, metrics=metrics, out_dir=out_dir)


def summary_line(metrics: dict, alternations: int) -> str:
    """One human line per alternation: R's accuracies where R trains (else the closed-form
    ridge's), D's, and the judge's scores and the choice so far under ``select="validation"``."""
    def fmt(key: str, spec: str = ".3f") -> str:
        value = metrics.get(key)
        return "-" if value is None else format(value, spec)

    recogniser = metrics.get("recogniser_val_acc")
    adversary = (f"ridge acc {fmt('ridge_acc_last')}" if "ridge_acc_last" in metrics and (
        recogniser is None or math.isnan(recogniser)) else
        f"R val acc {fmt('recogniser_val_acc')} (hard {fmt('recogniser_val_acc_hard')})")
    judged = (f" | judge identity {fmt('select_identity_acc')} face {fmt('select_face_acc')}, "
              f"chosen {metrics['selected_alternation'] + 1}"
              if metrics.get("selected_alternation") is not None else "")
    return (f"[alternation {metrics['alternation'] + 1}/{alternations}] T={metrics['hardness']:g} "
            f"encoder loss {fmt('encoder_loss_first')} -> {fmt('encoder_loss_last')} | "
            f"{adversary} | D val acc {fmt('detector_val_acc')} (hard "
            f"{fmt('detector_val_acc_hard')}){judged} | {fmt('seconds', '.1f')} s")
