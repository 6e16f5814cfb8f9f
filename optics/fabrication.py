"""Fabrication files for a diffractive phase mask: quantised heights, GDSII, TIFF, PNG, manifest.

A phase mask of height map ``h`` (metres of material above the deepest point) is made by ``k``
binary etch steps of depths ``H/2, H/4, ..., H/2^k`` where ``H = lambda / (n(lambda) - 1)`` is
the height that gives a 2 pi phase delay at the design wavelength. Together they make
``L = 2^k`` equally spaced levels ``q * H / L`` (q = 0 .. L-1).

Conventions (also in docs/mask-files.md):

- Pixel ``(row, col)`` of a height map [rows, cols] covers, in the GDSII file,
  ``x in [col * pitch, (col + 1) * pitch]`` and ``y in [(rows - 1 - row) * pitch, (rows - row) *
  pitch]``: row 0 is the top edge (the image seen from the etched side).
- The top surface is level ``L - 1`` (nothing etched). GDSII layer ``j + 1`` (datatype 0) holds
  the regions etched in step ``j`` (depth ``H / 2^(j+1)``): a pixel of level ``q`` is etched in
  step ``j`` when bit ``k - 1 - j`` of ``L - 1 - q`` is set, so the summed etch depth is
  ``(L - 1 - q) * H / L``.
- Polygons are axis-aligned rectangles: each row's runs of etched pixels, merged with identical
  runs in the following rows (gdstk's boolean union is far too slow for pixel maps).
"""
from __future__ import annotations

import datetime
import math
import os
from typing import Any, Mapping, Sequence

import numpy as np

from canopic.core import files
from canopic.core.files import prepare_output_folder, publish_folder  # noqa: F401 (kept public)
from canopic.core.checks import check_positive

#: Version of the manifest written by :func:`export_mask`.
MANIFEST_SCHEMA = "canopic.mask-fabrication/1"
#: Height unit of the 16-bit TIFF: one count is 0.1 nm (full scale 6.5535 um).
TIFF_HEIGHT_UNIT = 1e-10
#: GDSII database units: user unit 1 um, precision 1 nm.
GDS_UNIT = 1e-6
GDS_PRECISION = 1e-9
#: Fixed GDSII timestamp, so that the same mask always gives the same bytes (and hash).
GDS_TIMESTAMP = datetime.datetime(2020, 1, 1)
#: Allowed numbers of levels (2^k for k binary etch steps).
ALLOWED_LEVELS = (2, 4, 8, 16, 32, 64)


def _check_levels(levels: int) -> int:
    if isinstance(levels, bool) or int(levels) != levels or int(levels) not in ALLOWED_LEVELS:
        raise ValueError(f"levels: must be a power of two in {ALLOWED_LEVELS} (k binary etch "
                         f"steps make 2^k levels), got {levels!r}")
    return int(levels)


def _check_height_map(height: np.ndarray, name: str = "height") -> np.ndarray:
    height = np.asarray(height, dtype=np.float64)
    if height.ndim != 2 or min(height.shape) < 1:
        raise ValueError(f"{name}: expected a 2-D height map [rows, cols], got shape {height.shape}")
    if not np.isfinite(height).all():
        raise ValueError(f"{name}: contains NaN or inf")
    return height


def etch_depths(levels: int, full_height: float) -> np.ndarray:
    """Depths (m) of the ``log2(levels)`` binary etch steps: ``H/2, H/4, ..., H/levels``."""
    levels = _check_levels(levels)
    full_height = check_positive(full_height, "full_height", "m")
    steps = int(round(math.log2(levels)))
    return full_height / 2.0 ** np.arange(1, steps + 1)


def quantize_heights(height: np.ndarray, levels: int, full_height: float
                     ) -> "tuple[np.ndarray, np.ndarray]":
    """Quantise a height map to ``levels`` equally spaced levels of one 2 pi period.

    Heights are taken modulo ``full_height`` (a 2 pi phase wrap changes nothing at the design
    wavelength) and rounded to the nearest level; a height that rounds up to ``full_height``
    wraps to level 0.

    Parameters
    ----------
    height : np.ndarray
        Heights (m), [rows, cols].
    levels : int
        Number of levels, 2^k.
    full_height : float
        The 2 pi height (m), see :func:`optics.materials.two_pi_height`.

    Returns
    -------
    level_index : np.ndarray
        uint8 [rows, cols], values 0 .. levels - 1.
    quantized : np.ndarray
        float64 [rows, cols], ``level_index * full_height / levels`` (m).
    """
    height = _check_height_map(height)
    levels = _check_levels(levels)
    full_height = check_positive(full_height, "full_height", "m")
    fraction = np.mod(height / full_height, 1.0)
    index = np.rint(fraction * levels).astype(np.int64) % levels
    return index.astype(np.uint8), index * (full_height / levels)


def etch_masks(level_index: np.ndarray, levels: int) -> np.ndarray:
    """Binary etch masks [k, rows, cols] (True = etched in step j, depth H / 2^(j+1))."""
    levels = _check_levels(levels)
    index = np.asarray(level_index)
    if index.ndim != 2:
        raise ValueError(f"level_index: expected [rows, cols], got shape {index.shape}")
    if index.size and (index.min() < 0 or index.max() >= levels):
        raise ValueError(f"level_index: values must lie in 0..{levels - 1}, got "
                         f"{index.min()}..{index.max()}")
    steps = int(round(math.log2(levels)))
    depth_units = (levels - 1 - index.astype(np.int64))
    bits = [(depth_units >> (steps - 1 - j)) & 1 for j in range(steps)]
    return np.stack(bits).astype(bool)


def levels_from_etch_masks(masks: np.ndarray) -> np.ndarray:
    """Inverse of :func:`etch_masks`: level indices [rows, cols] from masks [k, rows, cols]."""
    masks = np.asarray(masks, dtype=bool)
    steps = masks.shape[0]
    levels = 2 ** steps
    depth_units = sum(masks[j].astype(np.int64) << (steps - 1 - j) for j in range(steps))
    return (levels - 1 - depth_units).astype(np.uint8)


def rectangles_from_bitmap(bitmap: np.ndarray) -> np.ndarray:
    """Cover the True pixels of ``bitmap`` with disjoint axis-aligned rectangles.

    Each row is run-length encoded; a run continues the rectangle of the row above when that
    row has a run with exactly the same columns. Vectorised (no Python loop over pixels).

    Parameters
    ----------
    bitmap : np.ndarray
        bool [rows, cols].

    Returns
    -------
    np.ndarray
        int64 [R, 4]: ``row_start, col_start, row_stop, col_stop`` (stops exclusive).
    """
    bitmap = np.asarray(bitmap, dtype=bool)
    if bitmap.ndim != 2:
        raise ValueError(f"bitmap: expected [rows, cols], got shape {bitmap.shape}")
    rows, cols = bitmap.shape
    padded = np.zeros((rows, cols + 2), dtype=np.int8)
    padded[:, 1:-1] = bitmap
    change = np.diff(padded, axis=1)                  # +1 at a run start, -1 after its end
    start_row, start_col = np.nonzero(change == 1)    # row-major order, so starts and
    _, stop_col = np.nonzero(change == -1)            # stops pair up one to one
    if start_row.size == 0:
        return np.zeros((0, 4), dtype=np.int64)
    key = start_col.astype(np.int64) * (cols + 1) + stop_col
    order = np.lexsort((start_row, key))              # by key, then row
    key, row = key[order], start_row[order].astype(np.int64)
    new_chain = np.ones(key.size, dtype=bool)
    new_chain[1:] = (key[1:] != key[:-1]) | (row[1:] != row[:-1] + 1)
    first = np.nonzero(new_chain)[0]
    last = np.append(first[1:], key.size) - 1
    chain_key = key[first]
    return np.stack([row[first], chain_key // (cols + 1), row[last] + 1,
                     chain_key % (cols + 1)], axis=1)


def _check_pitch_on_grid(pitch: float) -> int:
    pitch_db = pitch / GDS_PRECISION
    if abs(pitch_db - round(pitch_db)) > 1e-6 * max(1.0, pitch_db) or round(pitch_db) < 1:
        raise ValueError(f"mask_pitch: {pitch} m is not a whole number of the GDSII precision "
                         f"({GDS_PRECISION} m); use e.g. 2e-6")
    return int(round(pitch_db))


def build_gds_library(level_index: np.ndarray, levels: int, mask_pitch: float,
                      cell_name: str = "PHASE_MASK"):
    """A ``gdstk.Library`` with one cell: the etch regions of each step on layers 1..k.

    Parameters
    ----------
    level_index : np.ndarray
        Level of each mask pixel, ints [rows, cols] in 0..levels-1 (see :func:`quantize_heights`).
    levels : int
        Number of levels, 2^k.
    mask_pitch : float
        Mask pixel pitch (m); must be a whole number of nanometres.
    cell_name : str
        Name of the top cell.
    """
    import gdstk

    mask_pitch = check_positive(mask_pitch, "mask_pitch", "m")
    _check_pitch_on_grid(mask_pitch)
    masks = etch_masks(level_index, levels)
    rows = masks.shape[1]
    pitch_units = mask_pitch / GDS_UNIT
    library = gdstk.Library(unit=GDS_UNIT, precision=GDS_PRECISION)
    cell = library.new_cell(cell_name)
    for step, mask in enumerate(masks):
        rects = rectangles_from_bitmap(mask).astype(np.float64)
        x0, x1 = rects[:, 1] * pitch_units, rects[:, 3] * pitch_units
        y0, y1 = (rows - rects[:, 2]) * pitch_units, (rows - rects[:, 0]) * pitch_units
        layer = step + 1
        cell.add(*[gdstk.rectangle((a, b), (c, d), layer=layer, datatype=0)
                   for a, b, c, d in zip(x0.tolist(), y0.tolist(), x1.tolist(), y1.tolist())])
    return library


def write_gdsii(path: "str | os.PathLike[str]", level_index: np.ndarray, levels: int,
                mask_pitch: float, cell_name: str = "PHASE_MASK") -> int:
    """Write the etch layers of a quantised mask to a GDSII file atomically.

    Returns the number of polygons written. See :func:`build_gds_library` for the parameters
    and the module docstring for the layer convention.
    """
    library = build_gds_library(level_index, levels, mask_pitch, cell_name)
    with files.atomic_path(path, suffix=".gds") as tmp:
        library.write_gds(tmp, timestamp=GDS_TIMESTAMP)
    return sum(len(cell.polygons) for cell in library.cells)


def read_gdsii_levels(path: "str | os.PathLike[str]", shape: Sequence[int], mask_pitch: float,
                      levels: int) -> np.ndarray:
    """Rasterise a mask GDSII file back to level indices with ``gdstk.inside``.

    Each pixel centre is tested against every polygon of each etch layer (gdstk's own point in
    polygon test, so the read-back does not trust our rectangle bookkeeping).

    Returns
    -------
    np.ndarray
        uint8 [rows, cols] level indices.
    """
    import gdstk

    levels = _check_levels(levels)
    rows, cols = (int(s) for s in shape)
    library = gdstk.read_gds(os.fspath(path), unit=GDS_UNIT)
    polygons = [p for cell in library.top_level() for p in cell.polygons]
    pitch_units = mask_pitch / GDS_UNIT
    col, row = np.meshgrid(np.arange(cols), np.arange(rows))
    centres = np.stack([(col.ravel() + 0.5) * pitch_units,
                        (rows - row.ravel() - 0.5) * pitch_units], axis=1)
    steps = int(round(math.log2(levels)))
    masks = np.zeros((steps, rows, cols), dtype=bool)
    for step in range(steps):
        layer_polygons = [p for p in polygons if p.layer == step + 1]
        if layer_polygons:
            masks[step] = np.asarray(gdstk.inside(centres, layer_polygons)).reshape(rows, cols)
    unknown = sorted({p.layer for p in polygons} - set(range(1, steps + 1)))
    if unknown:
        raise ValueError(f"{path}: layers {unknown} are not etch layers 1..{steps}")
    return levels_from_etch_masks(masks)


def write_height_tiff(path: "str | os.PathLike[str]", height: np.ndarray,
                      pixel_pitch: "float | None" = None) -> None:
    """Write heights (m) as a 16-bit TIFF, one count = ``TIFF_HEIGHT_UNIT`` (0.1 nm).

    Deflate-compressed (TIFF compression 8: libtiff, tifffile, Pillow, OpenCV and GDAL read it
    without plug-ins; not baseline TIFF, so a tool that reads only uncompressed TIFF needs a
    conversion, e.g. ``tiffcp -c none``);
    with ``pixel_pitch`` (m) the resolution tags give the mask's pitch: ``1 cm / pixel_pitch``
    pixels per centimetre (ResolutionUnit 3).
    """
    from PIL import Image

    height = _check_height_map(height)
    counts = np.rint(height / TIFF_HEIGHT_UNIT)
    if counts.min() < 0 or counts.max() > 65535:
        raise ValueError(f"height: {height.min():.4g}..{height.max():.4g} m does not fit a 16-bit "
                         f"TIFF in {TIFF_HEIGHT_UNIT} m counts (allowed 0..6.5535e-06 m)")
    options = {"compression": "tiff_deflate"}
    if pixel_pitch is not None:
        per_cm = 0.01 / check_positive(pixel_pitch, "pixel_pitch", "m")
        options.update(resolution=per_cm, x_resolution=per_cm, y_resolution=per_cm,
                       resolution_unit=3)
    with files.atomic_path(path, suffix=".tif") as tmp:
        Image.fromarray(counts.astype(np.uint16)).save(tmp, format="TIFF", **options)


def read_height_tiff(path: "str | os.PathLike[str]") -> np.ndarray:
    """Read a height TIFF written by :func:`write_height_tiff`; heights (m) float64."""
    import cv2

    counts = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if counts is None or counts.dtype != np.uint16:
        raise ValueError(f"{path}: not a 16-bit single-channel TIFF")
    return counts.astype(np.float64) * TIFF_HEIGHT_UNIT


def write_preview_png(path: "str | os.PathLike[str]", height: np.ndarray,
                      full_height: float) -> None:
    """Write an 8-bit greyscale preview: black = 0, white = the 2 pi height."""
    import cv2

    height = _check_height_map(height)
    full_height = check_positive(full_height, "full_height", "m")
    grey = np.clip(np.rint(height / full_height * 255.0), 0, 255).astype(np.uint8)
    with files.atomic_path(path, suffix=".png") as tmp:
        if not cv2.imwrite(tmp, grey):
            raise RuntimeError(f"{path}: OpenCV could not write the PNG")


def file_entry(folder: str, name: str, role: str, **extra: Any) -> dict:
    """Manifest entry of one file: name, role, bytes and sha256."""
    path = os.path.join(folder, name)
    return {"path": name, "role": role, "bytes": os.path.getsize(path),
            "sha256": files.sha256_file(path), **extra}


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        raise ValueError(f"name: {name!r} must be letters, digits, '_' or '-'")
    return name


def export_masks(out_dir: "str | os.PathLike[str]", heights: "Mapping[str, np.ndarray]", *,
                 levels: int = 16, mask_pitch: float = 2e-6, distance: float = 1.869e-3,
                 design_wavelength: float = 532e-9,
                 wavelengths: Sequence[float] = (640e-9, 532e-9, 450e-9),
                 material: str = "fused_silica",
                 extra_manifest: "Mapping[str, Any] | None" = None,
                 overwrite: bool = False) -> dict:
    """Write the fabrication files of one or more phase masks into ``out_dir``; return the manifest.

    Files per mask ``<name>``: ``<name>.gds`` (etch layers), ``<name>_height.tif`` (16-bit
    heights, 0.1 nm counts), ``<name>_preview.png`` and ``<name>_levels.npz`` (level indices and
    heights, for tools); then ``manifest.json`` with the sha256 of every file. Everything is
    validated first, written into ``<out_dir>.part`` and moved onto ``out_dir`` at the end, so a
    failure leaves nothing half-written.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Output folder (must not exist unless ``overwrite``).
    heights : mapping of str to np.ndarray
        Mask name (letters, digits, ``_``, ``-``) -> designed heights (m), [rows, cols].
    levels : int
        Number of height levels, 2^k for k binary etch steps.
    mask_pitch, distance, design_wavelength : float
        Mask pixel pitch (m; a whole number of nm), mask-to-sensor distance (m), wavelength (m)
        that defines the 2 pi height.
    wavelengths : sequence of float
        Wavelengths (m) the masks are used at (recorded with their refractive indices).
    material : str
        Mask material, as ``optics.materials.refractive_index`` names it.
    extra_manifest : mapping, optional
        More JSON-able entries for the manifest (e.g. the PSF after quantisation).
    overwrite : bool
        Replace an existing ``out_dir``.
    """
    from optics.materials import refractive_index, two_pi_height

    out_dir = os.fspath(out_dir)
    if not heights:
        raise ValueError("heights: no mask to export")
    heights = {_check_name(name): _check_height_map(h, f"height of {name!r}")
               for name, h in heights.items()}
    levels = _check_levels(levels)
    mask_pitch = check_positive(mask_pitch, "mask_pitch", "m")
    _check_pitch_on_grid(mask_pitch)
    distance = check_positive(distance, "distance", "m")
    design_wavelength = check_positive(design_wavelength, "design_wavelength", "m")
    wavelengths = [check_positive(w, "wavelengths", "m") for w in wavelengths]
    full_height = two_pi_height(material, design_wavelength)
    indices = {w: float(np.asarray(refractive_index(material, w))) for w in wavelengths}
    if full_height * (levels - 1) / levels > 65535 * TIFF_HEIGHT_UNIT:
        raise ValueError(f"design_wavelength: the 2 pi height {full_height:.4g} m exceeds the "
                         f"TIFF range (6.5535e-06 m)")

    with files.staged_folder(out_dir, overwrite) as staging:
        entries = []
        for name, height in heights.items():
            level_index, quantized = quantize_heights(height, levels, full_height)
            names = {"gds": f"{name}.gds", "tif": f"{name}_height.tif",
                     "png": f"{name}_preview.png", "npz": f"{name}_levels.npz"}
            polygons = write_gdsii(os.path.join(staging, names["gds"]), level_index, levels,
                                   mask_pitch, cell_name=name.upper())
            write_height_tiff(os.path.join(staging, names["tif"]), quantized, mask_pitch)
            write_preview_png(os.path.join(staging, names["png"]), quantized, full_height)
            files.save_npz(os.path.join(staging, names["npz"]), level_index=level_index,
                           height=quantized, design_height=height)
            entries.append({
                "name": name, "shape": list(height.shape),
                "size": [height.shape[1] * mask_pitch, height.shape[0] * mask_pitch],
                "gds_cell": name.upper(), "gds_polygons": polygons,
                "level_histogram": np.bincount(level_index.ravel(), minlength=levels).tolist(),
                "files": [
                    file_entry(staging, names["gds"], "GDSII etch layers, one per etch step"),
                    file_entry(staging, names["tif"], "16-bit height map, deflate (compression 8); "
                                          "resolution tags: pixels per cm = 0.01 / "
                                          "mask_pitch",
                               count=TIFF_HEIGHT_UNIT),
                    file_entry(staging, names["png"], "8-bit preview (white = 2 pi height)"),
                    file_entry(staging, names["npz"], "level indices and heights (m)"),
                ]})
        depths = etch_depths(levels, full_height)
        manifest = {
            "schema": MANIFEST_SCHEMA,
            "units": {"length": "m", "gds_user_unit": GDS_UNIT, "gds_precision": GDS_PRECISION,
                      "tiff_count": TIFF_HEIGHT_UNIT},
            "material": material,
            "refractive_index_model": _index_model_name(material),
            "refractive_index": [{"wavelength": w, "n": n} for w, n in indices.items()],
            "design_wavelength": design_wavelength,
            "wavelengths": wavelengths,
            "two_pi_height": full_height,
            "mask_pitch": mask_pitch,
            "mask_sensor_distance": distance,
            "levels": levels,
            "level_heights": (np.arange(levels) * full_height / levels).tolist(),
            "etch_steps": [{"step": j, "gds_layer": j + 1, "gds_datatype": 0, "depth": float(d)}
                           for j, d in enumerate(depths)],
            "orientation": "row 0 of the arrays is the top edge (largest y) in the GDSII file; "
                           "the top surface is the highest level (nothing etched)",
            "masks": entries,
            "files": [entry for mask in entries for entry in mask["files"]],
        }
        if extra_manifest:
            manifest.update(dict(extra_manifest))
        files.write_json(os.path.join(staging, "manifest.json"), manifest)
    return manifest


def export_mask(out_dir: "str | os.PathLike[str]", height: np.ndarray, *, name: str = "mask",
                **options: Any) -> dict:
    """:func:`export_masks` for a single mask called ``name``; same options."""
    return export_masks(out_dir, {name: height}, **options)


def _index_model_name(material: str) -> str:
    """A readable description of the dispersion model of ``material`` (for the manifest)."""
    import dataclasses

    from optics.materials import get_material

    model = get_material(material)
    if dataclasses.is_dataclass(model):
        fields = ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(model).items())
        return f"{type(model).__name__}({fields}); wavelength in um"
    return repr(model)


def verify_manifest(folder: "str | os.PathLike[str]") -> "list[str]":
    """Check every file listed in ``folder``/manifest.json; return the problems (empty = good)."""
    import json

    folder = os.fspath(folder)
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    problems = []
    if manifest.get("schema") != MANIFEST_SCHEMA:
        problems.append(f"schema {manifest.get('schema')!r} is not {MANIFEST_SCHEMA!r}")
    for entry in manifest.get("files", []):
        path = os.path.join(folder, entry["path"])
        if not os.path.isfile(path):
            problems.append(f"{entry['path']}: missing")
        elif files.sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs from the manifest")
    return problems

