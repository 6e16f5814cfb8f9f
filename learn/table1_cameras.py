"""The encoders and cameras of Table 1's rows: baselines, unlearned, learned, published, physical.

:func:`row_camera` gives a CAnOPIC row's camera at an evaluation seed (learning it with
``learn.alternating`` for a learned row, :func:`learn_camera`) or its :func:`physical_twin`
(the same design through :data:`learn.table1_rows.PHYSICAL_CAMERA` and designed phase masks);
:func:`camera_encoder` and :func:`baseline_encoder` wrap cameras and baselines as the
``encoder(images, generator)`` that ``learn.evaluation.evaluate_encoder`` scores.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch

from learn.table1_rows import PHYSICAL_CAMERA, PHYSICAL_MASKS, Profile, Row


def camera_encoder(camera: torch.nn.Module) -> Callable:
    """Wrap a ``sensor.Camera`` as an evaluation encoder (hard mode, noise from ``generator``).

    The encoder maps scenes [N, 3, H, W] (linear RGB in [0, 1]) to the camera's outputs
    [N, 3F, H/b, W/b] (integer ADC codes 0..levels-1 where it quantises); the camera is put in
    eval mode.
    """
    camera.eval()

    def encoder(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return camera(images, mode="hard", generator=generator)

    return encoder


def baseline_encoder(name: str, strength: float) -> Callable:
    """Gaussian blur (``strength`` = sigma, px) or pixelation (block, px) from sensor.baselines.

    ``name`` "clean" returns the scenes unchanged (``strength`` ignored). The encoder maps
    scenes [N, 3, H, W] (linear RGB in [0, 1]) to images of the same shape and range; it draws
    no noise (``generator`` is ignored).
    """
    from sensor.baselines import gaussian_blur, pixelate

    if name == "blur":
        return lambda images, generator: gaussian_blur(images, sigma_px=float(strength))
    if name == "pixelate":
        return lambda images, generator: pixelate(images, block=int(strength))
    if name == "clean":
        return lambda images, generator: images
    raise ValueError(f"baseline: {name!r} is not allowed; choose clean, blur or pixelate")


#: Fixed designs :func:`reference_encoder` makes: the two image baselines and the unlearned
#: Conv(1) + MP + Quantize camera with a Gaussian PSF (the fixed optics a learned camera starts
#: from and must beat).
REFERENCE_KINDS = ("blur", "pixelate", "gaussian_camera")


def gaussian_camera(sigma_px: float, seed: int = 0) -> torch.nn.Module:
    """The unlearned Conv(1) + MP + Quantize camera whose PSF is a unit-sum Gaussian of sigma
    ``sigma_px`` px (``sensor.CameraConfig.psf_sigma``; seeded noise, the default
    thresholds)."""
    from sensor import Camera, CameraConfig

    return Camera(CameraConfig(conv="conv1", maxpool=True, quantize=True,
                               psf_sigma=float(sigma_px), seed=seed))


def gaussian_camera_encoder(sigma_px: float, seed: int = 0) -> Callable:
    """:func:`gaussian_camera` as an evaluation encoder (:func:`camera_encoder`)."""
    return camera_encoder(gaussian_camera(sigma_px, seed))


def reference_encoder(kind: str, strength: float, seed: int = 0) -> Callable:
    """A fixed design of :data:`REFERENCE_KINDS` at ``strength`` px (blur sigma, pixelation
    block, or the Gaussian camera's PSF sigma) as an evaluation encoder."""
    if kind == "gaussian_camera":
        return gaussian_camera_encoder(strength, seed)
    if kind in ("blur", "pixelate"):
        return baseline_encoder(kind, strength)
    raise ValueError(f"reference: {kind!r} is not allowed; choose one of {REFERENCE_KINDS}")


def learn_camera(row: Row, splits, settings: dict, seed: int = 0,
                 log: "list | None" = None, device="cpu", progress: bool = True,
                 camera: "torch.nn.Module | None" = None) -> torch.nn.Module:
    """Train ``row``'s camera with ``learn.alternating`` on the encoder identities of ``splits``.

    ``log``, when given, receives the metrics dict of every alternation
    (``AlternatingTrainer.run_alternation``). Training runs on ``device``; the camera is
    returned there. ``progress``: a progress bar over the alternations. ``camera``: a module
    to learn in place of ``sensor.Camera(row.camera)`` (the same call signature and outputs,
    e.g. the learning study's free encoder, which no optics can build).
    """
    from learn.alternating import AlternatingSettings, AlternatingTrainer, TrainingData
    from sensor import Camera, CameraConfig

    if camera is None:
        camera = Camera(CameraConfig(**row.camera, seed=seed))
    learning = AlternatingSettings(alpha=row.alpha, **settings)
    data = TrainingData.from_splits(splits, device=device, **learning.judge())
    trainer = AlternatingTrainer(camera, data, learning, seed=seed, device=device)
    from tqdm.auto import tqdm

    for alternation in tqdm(range(trainer.settings.alternations), leave=False,
                            desc=f"{row.key} learning (seed {seed})", disable=not progress):
        metrics = trainer.run_alternation(alternation)
        if log is not None:
            log.append(metrics)
    return trainer.design()[0]  # the selected alternation's camera where the settings select


def physical_twin(camera: torch.nn.Module, masks: "dict | None" = PHYSICAL_MASKS,
                  settings: "dict | None" = None) -> torch.nn.Module:
    """The same design through the physical camera (:data:`PHYSICAL_CAMERA`).

    With ``masks`` (settings like :data:`PHYSICAL_MASKS`, the default) phase masks are designed
    for the kernel (``optics.signed.design_signed_masks``: two masks, the positive
    and negative parts captured separately and subtracted, one mask where the kernel is
    non-negative) and the camera convolves with *their* PSFs at R, G and B, dispersion and
    design error included. Without ``masks`` the kernel itself is split into two ideal captures,
    ``K+`` and ``K-`` (``optics.signed.RealisedPSF``; one capture where no tap is negative), so
    only the noise changes. Either way
    the light is conserved (``RealisedPSF.light_conserving``): one common factor scales the
    PSFs so that the brightest capture sums to 1, the scene's light per exposure (a learned
    kernel's gain can reach tens, which would amplify the light and clip the pixels), and a
    fixed gain stage gets that factor back; with the per-frame gain stage the noise-free codes
    do not change. Thresholds are copied, spread apart to the
    ADC's minimum spacing where they collapsed (``sensor.published.spread_thresholds``).
    ``settings`` replaces :data:`PHYSICAL_CAMERA` (``{}``: the design's own, noise-free camera
    config, so only the optics change). The twin is built on the CPU and returned on
    ``camera``'s device.
    """
    from optics.signed import RealisedPSF
    from sensor import Camera, CameraConfig
    from sensor.published import spread_thresholds

    tensors = [*camera.parameters(), *camera.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    camera = copy.deepcopy(camera).cpu()
    settings = PHYSICAL_CAMERA if settings is None else settings
    config = CameraConfig(**{**camera.config.to_dict(), **settings})
    psf = camera.psf
    source = None
    if psf is not None and masks:
        from optics.design import MaskGeometry
        from optics.signed import design_signed_masks

        options = dict(masks)
        geometry = MaskGeometry(mask_size=options.pop("mask_size"))
        source = design_signed_masks(psf[:, 0].double(), geometry, seed=0, progress=False,
                                     **options).psf_source()
    elif psf is not None:  # ideal captures of the kernel's own parts (one if non-negative)
        kernel = psf.detach().float()
        source = RealisedPSF.from_parts(kernel.clamp(min=0.0), (-kernel).clamp(min=0.0))
    if source is not None:  # a passive optic: the brightest capture sums to 1
        source, factor = source.light_conserving()
        config.fixed_gain *= factor  # the analog gain that gives the light back (fixed mode)
        config.fixed_offset /= factor
    if camera.adc is not None:
        spacing = max(config.min_threshold_spacing, CameraConfig.min_threshold_spacing)
        config.min_threshold_spacing = spacing
        config.thresholds = spread_thresholds(camera.thresholds.numpy().astype("float64"),
                                              spacing, float(config.levels - 1)).tolist()
    return Camera(config, psf_source=source).to(device)


def row_camera(row: Row, splits, profile: Profile, physical: bool = False,
               learned: "dict | None" = None, seed: int = 0, device="cpu",
               progress: bool = True) -> torch.nn.Module:
    """The camera of a CAnOPIC row: ideal, or its :func:`physical_twin`.

    Published encoders are loaded exactly (repeated thresholds kept) for the ideal columns and
    with realisable, spread thresholds (``exact=False``) for the physical ones. Learned rows are
    trained with ``seed`` (once; ``learned`` caches them by ``(row.key, seed)``; ``progress``:
    a bar over the alternations). The camera is returned on ``device``.
    """
    from sensor import Camera, CameraConfig, load_published_camera

    if row.kind == "published":
        camera = load_published_camera(row.published, exact=not physical).to(device)
    elif row.kind == "unlearned":
        camera = Camera(CameraConfig(**row.camera)).to(device)
    else:
        learned = {} if learned is None else learned
        if (row.key, seed) not in learned:
            learned[row.key, seed] = learn_camera(row, splits, profile.alternating, seed=seed,
                                                  device=device, progress=progress)
        camera = learned[row.key, seed]
    return physical_twin(camera, profile.physical_masks) if physical else camera


def camera_seed(row: Row, seed: int) -> int:
    """Seed of the camera a row uses at evaluation seed ``seed``.

    A learned row has one camera per evaluation seed, each trained with that seed, so the
    spread over seeds includes the spread of the alternating optimisation; unlearned and
    published rows share one camera, seed 0's (its per-frame noise still follows ``seed``).
    """
    return seed if row.kind == "learned" else 0
