"""Simulate captures of user files: read scenes, run the camera, write codes, previews, figure."""
from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np
import torch

from canopic.core import files
from canopic.core.filetypes import IMAGE_SUFFIXES, is_video, list_images
from sensor.camera import Camera, CameraConfig
from sensor.published import load_published_camera
from sensor.colour import images_to_scenes



def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an RGB uint8 image [H, W, 3] to a square and resize to [size, size, 3] (area)."""
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = image[top:top + side, left:left + side]
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def iter_frames(inputs: Iterable[str], size: int, max_frames: int) -> Iterator["tuple[str, np.ndarray]"]:
    """(name, uint8 RGB [size, size, 3]) for every image of every input (files, folders, videos)."""
    import cv2

    for item in inputs:
        path = Path(item)
        if path.is_dir():
            children = list_images(path)
            if not children:
                raise ValueError(f"inputs: folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
            yield from iter_frames([str(p) for p in children], size, max_frames)
        elif is_video(path):
            capture = cv2.VideoCapture(str(path))
            if not capture.isOpened():
                raise ValueError(f"inputs: cannot open video {path}")
            index = 0
            while index < max_frames:
                ok, frame = capture.read()
                if not ok:
                    break
                yield f"{path.stem}_{index:06d}", square_resize(frame[:, :, ::-1], size)
                index += 1
            capture.release()
            if index == 0:
                raise ValueError(f"inputs: video {path} has no readable frames")
        elif path.is_file():
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ValueError(f"inputs: {path} is not a readable image")
            yield path.stem, square_resize(bgr[:, :, ::-1], size)
        else:
            raise FileNotFoundError(f"inputs: {path} does not exist")


def load_camera_config(config_path: "str | Path") -> CameraConfig:
    """The ``CameraConfig`` of a JSON file; ``ValueError`` names the file and what is wrong."""
    path = Path(config_path)
    values = files.read_json_object(path, "config", "an object of sensor.CameraConfig fields")
    try:
        return CameraConfig.from_dict(values)
    except (ValueError, TypeError) as error:
        raise ValueError(f"config: {path}: {error}") from None


def check_inputs(inputs: Iterable[str]) -> None:
    """Refuse, before anything is read, an input that does not exist or an empty folder."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if not list_images(path):
                raise ValueError(f"inputs: folder {path} holds no images "
                                 f"({', '.join(IMAGE_SUFFIXES)})")
        elif not path.is_file():
            raise FileNotFoundError(f"inputs: {path} does not exist")


def resolve_device(device: "str | torch.device | None") -> torch.device:
    """``auto``/None -> CUDA when present, else CPU; ``ValueError`` for CUDA without CUDA."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device: {device!r} is not allowed; need auto, cpu, cuda or "
                         f"cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested, but torch sees no CUDA device; use "
                         f"cpu or auto")
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device: {device!r} is not allowed; need auto, cpu, cuda or cuda:N")
    return resolved


def load_camera(encoder: Optional[str], config_path: Optional[str]) -> Camera:
    """A camera from a published encoder / design bundle (``encoder``) or a config JSON."""
    if config_path:
        return Camera(load_camera_config(config_path))
    if encoder and Path(encoder).is_dir():
        from sensor.design_bundle import load_design_bundle
        return load_design_bundle(encoder).make_camera()
    return load_published_camera(encoder or "Learned_Conv1_Maxpool_Quantize_alpha1")


def code_preview(codes: np.ndarray, levels: int, scale: int = 8) -> np.ndarray:
    """Codes [C, h, w] (C = 3F) -> uint8 RGB preview [h*scale, F*w*scale, 3], filters side by side."""
    c, h, w = codes.shape
    filters = max(1, c // 3)
    rgb = codes.reshape(filters, 3, h, w).transpose(2, 0, 3, 1).reshape(h, filters * w, 3)
    rgb = np.kron(rgb, np.ones((scale, scale, 1)))
    return np.clip(np.round(rgb / max(levels - 1, 1) * 255), 0, 255).astype(np.uint8)


def simulate_files(inputs: "list[str]", out_dir: str, encoder: Optional[str] = None,
                   config_path: Optional[str] = None, size: int = 64, seed: int = 0,
                   batch: int = 256, max_frames: int = 10000, overwrite: bool = False,
                   device: "str | torch.device" = "cpu", progress: bool = True) -> dict:
    """Encode every frame of ``inputs`` and write codes.npz, previews/ and fig4.png to ``out_dir``.

    ``out_dir`` is written whole or not at all; an existing one is refused unless
    ``overwrite``. ``device`` is where the camera computes ("cpu", "cuda", "cuda:N" or "auto");
    the same seed gives the same codes on the same device. ``progress``: a progress bar.
    """
    for name, value in (("batch", batch), ("max_frames", max_frames), ("seed", seed)):
        if not isinstance(value, int) or value < (0 if name == "seed" else 1):
            raise ValueError(f"{name}: {value!r} is not allowed; need an integer >= "
                             f"{0 if name == 'seed' else 1}")
    if size < 8 or size % 8:
        raise ValueError(f"size: must be a positive multiple of 8 pixels, got {size}")
    check_inputs(inputs)
    torch_device = resolve_device(device)
    camera = load_camera(encoder, config_path).eval()
    with files.staged_folder(out_dir, overwrite) as staging:  # an existing one is refused
        return _simulate_into(Path(staging), Path(out_dir), camera, inputs, size, seed, batch,
                              max_frames, torch_device, progress)


def _simulate_into(out: Path, final: Path, camera: Camera, inputs, size: int, seed: int,
                   batch: int, max_frames: int, device: torch.device, progress: bool) -> dict:
    """The work of :func:`simulate_files`, writing into the staging folder ``out``."""
    import cv2
    from tqdm import tqdm

    camera = camera.to(device)
    (out / "previews").mkdir(parents=True, exist_ok=True)
    if not inputs:
        names, frames = zip(*bundled_examples(size))
        frame_iter: Iterable = zip(names, frames)
    else:
        frame_iter = iter_frames(inputs, size, max_frames)
    generator = torch.Generator(device=device).manual_seed(seed)
    levels = camera.config.levels if camera.adc is not None else 256
    all_names, all_codes, examples = [], [], []
    pending: list = []

    def flush() -> None:
        names, images = zip(*pending)
        scenes = images_to_scenes(np.stack(images)).to(device)
        with torch.no_grad():
            codes = camera(scenes, generator=generator).cpu().numpy()
        for name, code in zip(names, codes):
            all_names.append(name)
            all_codes.append(code)
            preview = code_preview(code if camera.adc is not None else _to_levels(code), levels)
            files.write_bytes(out / "previews" / f"{name}.png", cv2.imencode(".png", preview[:, :, ::-1])[1].tobytes())
        pending.clear()

    frame_iter = iter(frame_iter)
    first = next(frame_iter, None)   # an unreadable first input fails before the bar shows
    frame_iter = itertools.chain([first] if first is not None else [], frame_iter)
    with tqdm(desc="simulate", unit="frame", disable=not progress) as bar:
        for name, image in frame_iter:
            if len(examples) < 2:
                examples.append((name, image))
            pending.append((name, image))
            if len(pending) >= batch:
                bar.update(len(pending))
                flush()
        if pending:
            bar.update(len(pending))
            flush()
    if not all_codes:
        raise ValueError("inputs: no frames were read")
    codes = np.stack(all_codes)
    dtype = np.uint8 if camera.adc is not None else np.float32
    files.save_npz(out / "codes.npz", codes=codes.astype(dtype), names=np.array(all_names),
                   config=np.array(json.dumps(camera.config.to_dict(), default=_jsonable)))
    if not inputs:
        figure_examples = examples
    else:
        figure_examples = examples[:2] if len(examples) == 2 else bundled_examples(size)
    figure = out / "fig4.png"
    from sensor.figures import stage_figure
    stage_figure(camera.cpu(), [image for _, image in figure_examples],
                 [name for name, _ in figure_examples], figure, seed=seed)
    return {"frames": len(all_codes), "codes": str(final / "codes.npz"),
            "previews": str(final / "previews"), "figure": str(final / "fig4.png")}


def _to_levels(values: np.ndarray) -> np.ndarray:
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / max(hi - lo, 1e-12) * 255


def _jsonable(value):
    if isinstance(value, (np.ndarray, torch.Tensor)):
        return np.asarray(value).tolist()
    return str(value)


def bundled_examples(size: int = 64) -> "list[tuple[str, np.ndarray]]":
    """A face and a no-face image from the bundled data (resized to ``size``)."""
    from canopic.core.bundle import read_image_bundle

    face = read_image_bundle("faces64_wide")["images"][0]
    nonface = read_image_bundle("nonfaces64")["images"][0]
    return [("face", square_resize(np.asarray(face), size)),
            ("no_face", square_resize(np.asarray(nonface), size))]
