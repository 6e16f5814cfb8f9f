"""The two calls scripts and the demo use: flash files and verify them; capture frames."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from hil.artifacts import MaskPattern, ThresholdTable
from hil.client import DEFAULT_BAUD, BoardClient
from hil.protocol import SlotStatus


def flash_and_verify(port: str, thresholds_file: Optional[str] = None,
                     mask_file: Optional[str] = None, *, baudrate: int = DEFAULT_BAUD,
                     target_baud: Optional[int] = None, progress: bool = True,
                     emulator_args: Optional[list] = None, **filters) -> Dict[str, SlotStatus]:
    """Flash a threshold table and/or a mask pattern, each read back byte for byte.

    Parameters
    ----------
    port : str
        Device path, pyserial URL, ``"auto"`` (with ``vid``/``pid``/``serial_number`` in
        ``filters``) or ``"emulator"``.
    thresholds_file, mask_file : str, optional
        Artifact files (see ``hil.artifacts``); each is validated here before sending.

    Every file is checked against the board's geometry (HELLO: DAC bits, threshold count and
    range, SLM size and levels) before anything is written, so a file that does not fit stops
    the flash before the other is sent. A transfer error of the second file after the first was
    committed still leaves the first committed (each file is its own commit). ``port="emulator"`` starts an emulator
    whose SLM has the mask's size unless ``emulator_args`` names ``--mask-size``.

    Returns
    -------
    dict
        ``{"thresholds": SlotStatus, "mask": SlotStatus}`` for what was flashed.

    Raises
    ------
    hil.protocol.CommittedUnverified
        A file was committed (the board holds it now) but its readback failed.
    """
    if thresholds_file is None and mask_file is None:
        raise ValueError("thresholds_file, mask_file: give at least one file to flash")
    table = ThresholdTable.load(thresholds_file) if thresholds_file else None
    mask = MaskPattern.load(mask_file) if mask_file else None
    named = any(str(a).startswith("--mask-size") for a in (emulator_args or []))
    if port == "emulator" and mask is not None and not named:
        rows, cols = mask.shape
        emulator_args = list(emulator_args or []) + ["--mask-size", f"{cols}x{rows}"]
    results: Dict[str, SlotStatus] = {}
    with BoardClient.open(port, baudrate=baudrate, target_baud=target_baud,
                          emulator_args=emulator_args, progress=progress, **filters) as board:
        board.check_fits(table=table, mask=mask)
        if table is not None:
            results["thresholds"] = board.flash_thresholds(table)
        if mask is not None:
            results["mask"] = board.flash_mask(mask)
    return results


def scenes_to_uint8(scenes) -> np.ndarray:
    """uint8 [N, H, W, 3] from uint8 [H, W, 3] / [N, H, W, 3] or float NCHW sRGB values in [0, 1]
    (photograph values; the board decodes them to linear light before its sensor)."""
    array = scenes.detach().cpu().numpy() if hasattr(scenes, "detach") else np.asarray(scenes)
    if array.dtype == np.uint8:
        array = array[None] if array.ndim == 3 else array
        if array.ndim != 4 or array.shape[-1] != 3:
            raise ValueError(f"scenes: expected uint8 [N, H, W, 3], got shape {array.shape}")
        return array
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[1] != 3:
        raise ValueError(f"scenes: expected float [N, 3, H, W] in [0, 1], got {array.shape}")
    return np.round(np.clip(array, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)


def capture(port: str, scenes, noise_seed: int = 0, *, baudrate: int = DEFAULT_BAUD,
            emulator_args: Optional[list] = None, return_metadata: bool = False, **filters):
    """Show each scene to the board's camera and return its codes.

    Parameters
    ----------
    port : str
        As for ``flash_and_verify``.
    scenes : array or tensor
        uint8 [N, H, W, 3] (or one [H, W, 3]) or float [N, 3, H, W] in [0, 1].
    noise_seed : int
        Seed of the per-frame noise of scene 0 (scene i uses ``noise_seed + i``).

    Returns
    -------
    numpy.ndarray
        uint8 codes [N, C, H/8, W/8]; with ``return_metadata`` also the list of metadata dicts.
    """
    images = scenes_to_uint8(scenes)
    codes, metadata = [], []
    with BoardClient.open(port, baudrate=baudrate, emulator_args=emulator_args,
                          progress=False, **filters) as board:
        for index, image in enumerate(images):
            frame, meta = board.capture(np.ascontiguousarray(image), noise_seed + index)
            codes.append(frame)
            metadata.append(meta)
    out = np.stack(codes)
    return (out, metadata) if return_metadata else out
