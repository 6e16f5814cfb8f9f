"""``canopic demo``: the main job, from bundled data to fabrication files, a flashed board and a report.

Stages (each writes into the run folder, atomically; a finished stage records its result in
``stages/<name>.json`` and is skipped when the demo runs again with the same settings, so an
interrupted demo resumes where it stopped; training resumes from its last checkpoint):

1. ``train_conv1``, ``train_conv4``: learn a Conv(1)+MP+Quantize and a Conv(4)+MP+Quantize camera
   in physical mode (two-mask signed PSFs) by alternating optimisation (``learn.runs``) with a
   learning recipe (``learn.recipes``: the closed-form adversary and factorised PSFs by
   default).
2. ``masks_conv1``, ``masks_conv4``: design the phase masks of each learned PSF (two masks per
   signed kernel) and export fabrication files (:mod:`optics.realise`).
3. ``tables``: the ADC threshold tables as DAC codes, in binary, JSON and Intel HEX, read back.
4. ``board``: flash the Conv(4) table and a mask pattern to a board (an emulator unless
   ``--port`` names a real one), read them back, capture frames, compare with the simulation.
5. ``evaluate``: privacy (strongest attack) and utility of both designs against Gaussian blur,
   pixelation and the unlearned Gaussian-PSF camera (each swept over the profile's strengths),
   on identities the encoder never saw.
6. ``report``: ``report.html`` (one file, figures embedded) and ``summary.json``, every path in
   them relative to the run folder (:mod:`canopic.app.demo_report`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

from learn.recipes import DEFAULT_RECIPE   # plain data: imports no torch

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
CONVS = ("conv1", "conv4")


@dataclasses.dataclass(frozen=True)
class DemoProfile:
    """How much work each stage does.

    Attributes
    ----------
    name : str
    training : dict
        ``learn.alternating.AlternatingSettings`` overrides.
    data : dict
        ``learn.runs.DataSettings`` overrides.
    mask : dict
        ``canopic design-mask`` options (mask size, iterations).
    levels : int
        Fabrication height levels.
    budget : dict
        ``learn.attacks.AttackBudget`` fields of the attackers and the face detector.
    attacks : tuple of str
        The attack suite (``learn.attacks.ATTACK_NAMES``).
    max_per_part : int or None
        Cap on images per evaluation split part (None: all).
    n_augment : int
        Encoded augmented copies per training image in the evaluation.
    seeds : tuple of int
        Evaluation seeds.
    captures : int
        Frames captured from the board.
    sweeps : dict
        Strengths (px) of the reference sweeps drawn as curves in the privacy-utility plot:
        ``{"blur": Gaussian sigmas, "pixelate": block sizes, "gaussian_camera": PSF sigmas of
        the unlearned Conv(1) + MP + Quantize camera}`` (``learn.table1_cameras.
        reference_encoder``; 8 px of blur and pixelation, the rows "blur" and "pixelate", is
        evaluated once and shared).
    """

    name: str
    training: dict
    data: dict
    mask: dict
    levels: int
    budget: dict
    attacks: tuple
    max_per_part: "int | None"
    n_augment: int
    seeds: tuple
    captures: int
    sweeps: dict = dataclasses.field(default_factory=lambda: {
        "blur": (4.0, 8.0, 16.0), "pixelate": (4, 8, 16), "gaussian_camera": (2.0, 8.0, 16.0)})


ALL_ATTACKS = ("inception", "mlp", "logistic", "knn", "reconstruct")
PROFILES = {
    # CI-sized: every stage runs, nothing is meant to be meaningful
    "tiny": DemoProfile(
        name="tiny",
        training=dict(alternations=1, encoder_epochs=1, recogniser_epochs=1, recogniser_patience=1,
                      detector_epochs=1, steps_per_epoch=2, order="networks_first",
                      recogniser_width=8, detector_width=8),
        data=dict(max_faces=64, max_nonfaces=64),
        mask=dict(mask_size=128, gs_iterations=3, gd_iterations=2),
        levels=4, budget=dict(cnn_epochs=1, flat_epochs=2, decoder_epochs=1, patience=1, cnn_width=4),
        attacks=("logistic", "knn"), max_per_part=24, n_augment=0, seeds=(0,), captures=2,
        sweeps={"blur": (4.0, 8.0), "pixelate": (4, 8), "gaussian_camera": (8.0,)}),
    "quick": DemoProfile(
        name="quick",
        training=dict(alternations=6, encoder_epochs=2, recogniser_epochs=8, recogniser_patience=3,
                      detector_epochs=2, steps_per_epoch=25, order="networks_first",
                      hardness_slope=5.0),
        data=dict(),
        mask=dict(mask_size=160, gs_iterations=25, gd_iterations=30),
        levels=16, budget=dict(cnn_epochs=8, flat_epochs=40, patience=3, cnn_width=16),
        attacks=("inception", "mlp", "logistic", "knn"), max_per_part=None, n_augment=0,
        seeds=(0,), captures=8),
    "full": DemoProfile(
        name="full",
        training=dict(alternations=8, encoder_epochs=2, recogniser_epochs=20, recogniser_patience=4,
                      detector_epochs=2, order="networks_first", hardness_slope=5.0),
        data=dict(),
        mask=dict(mask_size=256, gs_iterations=50, gd_iterations=200),
        levels=16, budget=dict(), attacks=ALL_ATTACKS, max_per_part=None, n_augment=1,
        seeds=(0, 1, 2), captures=32,
        sweeps={"blur": (2.0, 4.0, 8.0, 16.0), "pixelate": (4, 8, 16),
                "gaussian_camera": (2.0, 4.0, 8.0, 12.0, 16.0)}),
}


# ----------------------------------------------------------------------------- the run folder
class DemoRun:
    """A run folder whose stages are cached (``stages/<name>.json``) by a fingerprint of their
    settings (:class:`canopic.core.cache.FingerprintCache`)."""

    def __init__(self, out: Path, settings: dict):
        from canopic.core.cache import FingerprintCache, fingerprint

        self.out = Path(out)
        self.settings = settings
        self.fingerprint = fingerprint(settings, length=16)
        self.records = FingerprintCache(self.out / "stages", codec="json")
        self.device = "auto"     # where training computes (not a setting: results are kept)
        self.progress = True     # progress bars

    def stage(self, name: str, work: Callable[[], dict]) -> dict:
        """Run ``work`` unless ``stages/<name>.json`` holds a result for these settings.

        Paths in the result that lie inside the run folder are stored relative to it, so a
        moved run folder still resumes and reports."""
        saved = self.records.load(name, self.fingerprint)
        if isinstance(saved, dict):
            log.info("[demo] %s: done earlier, kept (%s)", name, self.records.path(name))
            return saved
        log.info("[demo] %s ...", name)
        from canopic.app.demo_report import run_relative

        start = time.perf_counter()
        result = run_relative(work(), self.out)     # paths inside the run folder, relative to it
        result["seconds"] = round(time.perf_counter() - start, 2)
        self.records.save(name, self.fingerprint, result)
        log.info("[demo] %s: %.1f s", name, result["seconds"])
        return result


# ----------------------------------------------------------------------------- stages
def train_stage(run: DemoRun, conv: str, profile: DemoProfile, seed: int, recipe: str,
                alpha: float, kernel_mode: str, psf_parameterisation: str) -> dict:
    """Learn one camera with ``recipe`` (``learn.recipes``) at privacy weight ``alpha`` with
    its PSFs learned as ``psf_parameterisation``, resuming from its checkpoint, and return its
    last metrics."""
    from learn.recipes import recipe as recipe_settings
    from learn.runs import RunConfig, load_run_config, train

    folder = run.out / conv
    training = {**recipe_settings(recipe), **profile.training, "alpha": float(alpha)}
    config = RunConfig.from_dict({
        "seed": seed, "device": run.device,
        "camera": {"conv": conv, "kernel_mode": kernel_mode,
                   "psf_parameterisation": psf_parameterisation},
        "training": training,
        "data": dict(profile.data)})
    resume = (folder / "checkpoint.pt").is_file()
    saved = folder / "config.json"
    if resume and saved.is_file() and load_run_config(saved).fingerprint() != config.fingerprint():
        raise ValueError(f"out: {str(folder)!r} holds a camera learned with other settings (an "
                         f"earlier demo's, e.g. before the closed_form recipe learned factorised "
                         f"PSFs: that one continues with --psf-parameterisation taps --alpha "
                         f"200); pass --overwrite to start the demo over, or choose another "
                         f"--out")
    result = train(config, folder, resume=resume, progress=run.progress)
    last = result.metrics[-1] if result.metrics else {}
    return {"design": str(folder / "design"), "alternations": len(result.metrics),
            "metrics": {k: v for k, v in last.items() if isinstance(v, (int, float, str))}}


def mask_stage(run: DemoRun, conv: str, profile: DemoProfile, seed: int) -> dict:
    """Design the phase masks of a learned camera and export its fabrication files."""
    from optics.design import MaskGeometry
    from optics.realise import design_to_folder, export_design

    folder = run.out / conv
    design = folder / "mask_design"
    fabrication = folder / "fabrication"
    report = design_to_folder(folder / "design" / "psf.npz", design, overwrite=True,
                              geometry=MaskGeometry(mask_size=profile.mask["mask_size"]),
                              gs_iterations=profile.mask["gs_iterations"],
                              gd_iterations=profile.mask["gd_iterations"], seed=seed,
                              progress=run.progress)
    export_design(design, fabrication, levels=profile.levels, overwrite=True)
    manifest = json.loads((fabrication / "manifest.json").read_text())
    wavelengths = report["geometry"]["wavelengths"]
    fidelity = {f"K{f}": {f"{w * 1e9:.0f}nm": round(entry["correlation"], 4)
                          for w, entry in zip(wavelengths, per_colour)}
                for f, per_colour in enumerate(report["kernel_fidelity"])}
    return {"design": str(design), "fabrication": str(fabrication),
            "kernel_correlation": fidelity, "masks": [m["name"] for m in report["masks"]],
            "files": [entry["path"] for entry in manifest.get("files", [])]}


def tables_stage(run: DemoRun) -> dict:
    """Threshold tables of both designs as DAC codes in every format, each read back."""
    from hil.tables import export_tables

    result = {}
    for conv in CONVS:
        folder = run.out / conv / "tables"
        manifest = export_tables(run.out / conv / "design", folder, dac_bits=12, v_ref_low=0.0,
                                 v_ref_high=1.0, overwrite=True)
        result[conv] = {"files": {entry["path"].rsplit(".", 1)[1]: str(folder / entry["path"])
                                  for entry in manifest["files"]},
                        "codes": manifest["codes"], "thresholds": manifest["realised"]}
    return result


def _mask_pattern_file(run: DemoRun) -> Path:
    """The first Conv(4) mask's quantised heights as a mask-pattern artifact (SLM height levels)."""
    import numpy as np

    from hil.artifacts import MaskPattern

    fabrication = run.out / "conv4" / "fabrication"
    manifest = json.loads((fabrication / "manifest.json").read_text())
    levels_file = sorted(fabrication.glob("*_levels.npz"))[0]
    with np.load(levels_file, allow_pickle=False) as data:
        level_index = np.asarray(data["level_index"])
    pattern = MaskPattern(levels=level_index.astype(np.uint16), level_count=int(manifest["levels"]),
                          kind="height", pixel_pitch=float(manifest["mask_pitch"]),
                          wavelength=float(manifest["design_wavelength"]),
                          top_value=float(manifest["two_pi_height"]))
    path = run.out / "conv4" / "mask_pattern.bin"
    pattern.save(str(path))
    return path


def _jsonable(value: Any) -> Any:
    """Dataclasses, bytes (as hex) and containers as JSON-ready values."""
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value


def board_stage(run: DemoRun, profile: DemoProfile, port: str, board_seed: int, seed: int) -> dict:
    """Flash the Conv(4) table and a mask, read back, capture, compare with the simulation."""
    import numpy as np
    import torch

    import hil
    from hil.artifacts import ThresholdTable
    from hil.board import BoardConfig, build_camera
    from learn import datasets

    design = run.out / "conv4" / "design"
    table_file = run.out / "conv4" / "tables" / "thresholds.bin"
    mask_file = _mask_pattern_file(run)
    from hil.artifacts import MaskPattern
    rows, cols = MaskPattern.load(str(mask_file)).levels.shape
    emulator = port == "emulator"
    camera_settings = {"comparator_offset_sigma": 0.002, "adc_mismatch_sigma": 0.05}
    emulator_args = ["--flash-dir", str(run.out / "board_flash"), "--seed", str(board_seed),
                     "--camera", str(design), "--mask-size", f"{cols}x{rows}"] if emulator else None
    status = hil.flash_and_verify(port, thresholds_file=str(table_file), mask_file=str(mask_file),
                                  emulator_args=emulator_args, progress=run.progress)
    faces = datasets.load_faces()
    nonfaces = datasets.load_nonfaces()
    count = profile.captures
    scenes = np.concatenate([faces.images[: count // 2], nonfaces.images[: count - count // 2]])
    captured = hil.capture(port, scenes, noise_seed=seed, emulator_args=emulator_args)
    result = {"port": port, "flashed": {k: _jsonable(v) for k, v in status.items()},
              "captured_frames": int(len(captured))}
    np.savez_compressed(run.out / "board_capture.npz", codes=captured, scenes=scenes)
    if emulator:
        board = BoardConfig(seed=board_seed, camera=camera_settings, published=str(design))
        camera = build_camera(board)
        table = ThresholdTable.load(str(table_file))
        camera.set_thresholds(table.thresholds())
        from sensor.colour import images_to_scenes
        simulated = []
        with torch.no_grad():
            for index, scene in enumerate(scenes):
                images = images_to_scenes(scene[None])
                codes = camera(images, generator=torch.Generator().manual_seed(seed + index))[0]
                simulated.append(codes.round().to(torch.uint8).numpy())
        simulated = np.stack(simulated)
        np.savez_compressed(run.out / "board_simulated.npz", codes=simulated)
        result["simulation_match_fraction"] = float((simulated == captured).mean())
        result["simulation_max_code_difference"] = int(np.abs(simulated.astype(int) - captured).max())
    return result


def evaluate_stage(run: DemoRun, profile: DemoProfile, seed: int) -> dict:
    """Strongest-attack identity accuracy and face vs no-face accuracy of every encoder, and of
    the reference sweeps (``profile.sweeps``: blur, pixelation and the unlearned Gaussian
    camera; the 8 px rows of blur and pixelation are their shared point)."""
    import torch

    from learn import datasets, table1
    from sensor.design_bundle import load_design_bundle
    from learn.evaluation import data_from_splits, evaluate_encoder, relative_privacy
    from learn.table1_cameras import reference_encoder

    from learn.attacks import AttackBudget

    budget = AttackBudget(**profile.budget)
    splits = datasets.make_splits(datasets.load_faces(), datasets.load_nonfaces(), seed=seed)
    data = data_from_splits(splits, profile.max_per_part)
    recognisers: dict = {}
    encoders = {"clean": table1.baseline_encoder("clean", 0),
                "blur": table1.baseline_encoder("blur", 8.0),
                "pixelate": table1.baseline_encoder("pixelate", 8)}
    for conv in CONVS:
        camera = load_design_bundle(run.out / conv / "design").make_camera()
        encoders[f"learned_{conv}"] = table1.camera_encoder(camera)
    # the reference sweeps (curves of the privacy-utility plot); 8 px is the row itself
    row_strength = {"blur": 8.0, "pixelate": 8.0}
    for name, strengths in profile.sweeps.items():
        for strength in strengths:
            if float(strength) != row_strength.get(name):
                encoders[f"{name}_{strength:g}px"] = reference_encoder(name, strength, seed)
    results = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)            # the small networks run faster on one thread
    try:
        for name, encoder in encoders.items():
            results[name] = evaluate_encoder(encoder, data, seeds=profile.seeds, attacks=profile.attacks,
                                             budget=budget, n_augment=profile.n_augment,
                                             desc=name, recognisers=recognisers,
                                             progress=run.progress)
    finally:
        torch.set_num_threads(threads)
    clean = results["clean"].privacy

    def summary(res) -> dict:
        return {"id_top1": res.privacy.top1.mean, "id_top1_std": res.privacy.top1.std,
                "id_top5": res.privacy.top5.mean, "strongest_attack": res.privacy.strongest,
                "id_chance": res.privacy.chance_top1,
                "id_fraction_of_clean": relative_privacy(res.privacy, clean),
                "face_acc": res.utility.test_accuracy.mean if res.utility else None,
                "face_acc_std": res.utility.test_accuracy.std if res.utility else None,
                "n_seeds": len(res.privacy.top1.values)}

    rows = {name: summary(results[name])
            for name in ("clean", "blur", "pixelate", *(f"learned_{conv}" for conv in CONVS))}
    sweeps = {name: [{"strength_px": float(strength), **summary(
                          results[name if float(strength) == row_strength.get(name)
                                  else f"{name}_{strength:g}px"])}
                     for strength in sorted(strengths)]
              for name, strengths in profile.sweeps.items()}
    return {"rows": rows, "sweeps": sweeps, "seeds": list(profile.seeds),
            "attacks": list(profile.attacks), "budget": dataclasses.asdict(budget),
            "max_per_part": profile.max_per_part}


# ----------------------------------------------------------------------------- the demo
def _check_port(port: str) -> None:
    """Refuse, before any work, a board port that cannot be opened: a device path that does not
    exist, or ``auto`` with no (or several) USB serial ports."""
    if port == "emulator" or "://" in port:
        return
    if port == "auto":
        from hil.ports import choose_port

        choose_port()
    elif not os.path.exists(port):
        raise ValueError(f"port: {port} does not exist; give a serial device (e.g. "
                         f"/dev/ttyACM0), a pyserial URL, 'auto' or 'emulator'")


def run_demo(out: str, profile: str = "quick", port: str = "emulator", seed: int = 0,
             alpha: "float | None" = None, kernel_mode: str = "two_mask", board_seed: int = 7,
             fresh: bool = False, device: str = "auto", progress: bool = True,
             recipe: str = DEFAULT_RECIPE, psf_parameterisation: "str | None" = None) -> dict:
    """Run every stage into ``out`` and return the summary (also ``out/summary.json``).

    ``profile`` is "quick" (the README's main command), "full", or "tiny" (CI-sized).
    ``recipe`` names the learning method (``learn.recipes``: "closed_form", the default, or
    "paper"); ``alpha`` overrides its privacy weight and ``psf_parameterisation`` ("taps" or
    "factorised") how the PSFs learn (None: the recipe's). A run
    folder that exists is resumed (finished stages are kept) unless ``fresh``: it is deleted
    first. ``device`` is where training computes ("auto", "cpu", "cuda", "cuda:N");
    ``progress``: progress bars. Every argument is checked before any work starts.
    """
    from canopic.core import files
    from canopic.app.demo_report import write_report
    from learn.recipes import recipe as recipe_settings, recipe_camera, refused_camera
    from learn.runs import resolve_device
    from sensor.camera import CameraConfig

    if profile not in PROFILES:
        raise ValueError(f"profile: {profile!r} is not one of {sorted(PROFILES)}")
    profile = PROFILES[profile]
    for name, value in (("seed", seed), ("board_seed", board_seed)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name}: {value!r} is not allowed; need an integer >= 0")
    if alpha is not None and not (isinstance(alpha, (int, float)) and math.isfinite(alpha)
                                  and alpha >= 0):
        raise ValueError(f"alpha: {alpha!r} is not allowed; need None or a finite number >= 0")
    method = recipe_settings(recipe)  # an unknown recipe fails here
    alpha = method["alpha"] if alpha is None else float(alpha)
    from_recipe = psf_parameterisation is None
    if from_recipe:
        psf_parameterisation = recipe_camera(recipe)["psf_parameterisation"]
    try:   # a kernel mode the PSF parameterisation cannot serve fails here
        for conv in CONVS:
            CameraConfig(conv=conv, kernel_mode=kernel_mode,
                         psf_parameterisation=psf_parameterisation)
    except ValueError as error:
        raise (refused_camera(error, recipe) if from_recipe else error) from None
    resolve_device(device)  # a bad or absent device fails here
    _check_port(port)
    out_path = Path(out)
    if out_path.exists() and not out_path.is_dir():
        raise ValueError(f"out: {out} is a file; need a run folder")
    if fresh and out_path.exists():
        shutil.rmtree(out_path)
    settings = {"profile": dataclasses.asdict(profile), "seed": seed, "recipe": recipe,
                "alpha": alpha,
                "kernel_mode": kernel_mode, "port": port, "board_seed": board_seed,
                "schema_version": SCHEMA_VERSION}
    if psf_parameterisation != "taps":   # run folders from before the field keep their stages
        settings["psf_parameterisation"] = psf_parameterisation
    run = DemoRun(out_path, settings)
    run.device, run.progress = str(device), progress
    files.write_json(out_path / "demo_settings.json", settings)
    results: "dict[str, Any]" = {}
    for conv in CONVS:
        results[f"train_{conv}"] = run.stage(f"train_{conv}", lambda conv=conv: train_stage(
            run, conv, profile, seed, recipe, alpha, kernel_mode, psf_parameterisation))
    for conv in CONVS:
        results[f"masks_{conv}"] = run.stage(f"masks_{conv}", lambda conv=conv: mask_stage(
            run, conv, profile, seed))
    results["tables"] = run.stage("tables", lambda: tables_stage(run))
    results["board"] = run.stage("board", lambda: board_stage(run, profile, port, board_seed, seed))
    results["evaluate"] = run.stage("evaluate", lambda: evaluate_stage(run, profile, seed))
    summary = write_report(run, results, settings)
    print(f"[demo] report: {out_path / 'report.html'}; summary: {out_path / 'summary.json'}")
    return summary
