"""The demo's figures, ``report.html`` (one file, figures embedded) and ``summary.json``.

The page leads with the finding: one sentence computed from the numbers (:func:`privacy_claim`),
the privacy-utility plot with the reference sweeps (blur, pixelation, the unlearned Gaussian
camera) as curves, then the tables. Every
path the page and the summary name is relative to the run folder (:func:`run_relative`), so the
folder can be moved or shared.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from canopic.core import files
from canopic.app.report import Report
from learn.plots import SWEEP_LABELS

#: Face vs no-face accuracy (fraction) an encoder may lose against the learned cameras and still
#: count as "at their utility" in :func:`privacy_claim`.
UTILITY_TOLERANCE = 0.01
CONVS = ("conv1", "conv4")
_LABELS = {"clean": "clean (no encoder)", "blur": "Gaussian blur 8 px",
           "pixelate": "pixelation 8 px", "learned_conv1": "learned Conv(1)",
           "learned_conv4": "learned Conv(4)"}
_SWEEP_NAMES = {"blur": "Gaussian blur", "pixelate": "pixelation",
                "gaussian_camera": SWEEP_LABELS["gaussian_camera"]}


# ----------------------------------------------------------------------------- paths
def run_relative(value: Any, root: "str | os.PathLike[str]") -> Any:
    """``value`` with every path string that lies inside ``root`` made relative to ``root``.

    Walks dicts, lists and tuples. A string counts as a path when it contains a separator;
    relative ones are read against the working directory (how the stages wrote them). Paths
    outside ``root`` (a serial port, say) are kept as they are; ``root`` itself becomes ``"."``.

    >>> run_relative({"design": "/runs/demo/conv1/design", "port": "/dev/ttyACM0"}, "/runs/demo")
    {'design': 'conv1/design', 'port': '/dev/ttyACM0'}
    """
    bases = {os.path.abspath(root), os.path.realpath(root)}

    def convert(text: str) -> str:
        if "/" not in text and os.sep not in text:
            return text
        full = os.path.abspath(text)
        for candidate in {full, os.path.realpath(full)}:
            for base in bases:
                if candidate == base:
                    return "."
                if candidate.startswith(base.rstrip(os.sep) + os.sep):
                    return Path(os.path.relpath(candidate, base)).as_posix()
        return text

    if isinstance(value, dict):
        return {key: run_relative(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(run_relative(item, root) for item in value)
    if isinstance(value, str):
        return convert(value)
    return value


def _in_run(run_dir: Path, path: "str | Path") -> Path:
    """A path of a stage result (relative to the run folder, or absolute from older runs)."""
    return Path(run_dir) / path


# ----------------------------------------------------------------------------- numbers
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _percent(value: "float | None") -> str:
    return "–" if _missing(value) else f"{100 * value:.1f}"


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


def _sweep_label(name: str, strength: float) -> str:
    return f"{_SWEEP_NAMES.get(name, name)} {strength:g} px"


def _seed_count(evaluation: dict) -> int:
    return len(evaluation.get("seeds") or []) or 1


def _candidates(evaluation: dict) -> "list[dict]":
    """Every encoder but clean as ``{"label", "kind", "id_top1", "face_acc"}`` (fractions): the
    learned cameras, and the references (every sweep point, or the 8 px rows without sweeps)."""
    rows, sweeps = evaluation["rows"], evaluation.get("sweeps") or {}
    out = []
    for name, row in rows.items():
        if name == "clean" or (name in sweeps and sweeps[name]):
            continue
        out.append({"label": _label(name), "id_top1": row["id_top1"], "face_acc": row["face_acc"],
                    "kind": "learned" if name.startswith("learned") else "reference"})
    for name, points in sweeps.items():
        for point in points:
            out.append({"label": _sweep_label(name, point["strength_px"]), "kind": "reference",
                        "id_top1": point["id_top1"], "face_acc": point["face_acc"]})
    return out


def privacy_claim(evaluation: dict, tolerance: float = UTILITY_TOLERANCE) -> str:
    """One sentence, from the numbers: the most private encoder at the learned cameras' utility.

    "At their utility" means a face vs no-face accuracy no lower than the lower of the learned
    cameras' less ``tolerance`` (a fraction). The winner is named whether or not it is learned;
    a learned winner is compared with the most private reference there, a reference winner with
    each learned camera. The number of evaluation seeds is said.
    """
    candidates = _candidates(evaluation)
    chance = next(iter(evaluation["rows"].values())).get("id_chance")
    chance_text = "" if _missing(chance) else f" (chance {_percent(chance)} %)"
    count = _seed_count(evaluation)
    seeds_text = ("one evaluation seed, so a gap of a few points may be noise" if count == 1
                  else f"means over {count} evaluation seeds")
    learned = [c for c in candidates if c["kind"] == "learned"]
    measured = [c for c in candidates if not _missing(c["id_top1"])]
    if not measured:
        return "No encoder was evaluated."
    if not learned or any(_missing(c["face_acc"]) for c in learned):
        best = min(measured, key=lambda c: c["id_top1"])
        return (f"The most private encoder is {best['label']}: the strongest attack identifies "
                f"{_percent(best['id_top1'])} % of unseen faces{chance_text} ({seeds_text}).")
    floor = min(c["face_acc"] for c in learned) - tolerance
    eligible = [c for c in measured if not _missing(c["face_acc"]) and c["face_acc"] >= floor]
    best = min(eligible, key=lambda c: (c["id_top1"], c["kind"] != "learned"))
    where = (f"Among encoders with face vs no-face accuracy of at least {100 * floor:.1f} % "
             f"(the lower learned camera's, less {100 * tolerance:g} point)")
    winner = best["label"] + ("" if best["kind"] == "learned" else ", not a learned camera")
    head = (f"{where}, the most private is {winner}: the strongest attack identifies "
            f"{_percent(best['id_top1'])} % of unseen faces through it{chance_text}")
    if best["kind"] == "learned":
        references = [c for c in eligible if c["kind"] == "reference"]
        if not references:
            return f"{head}, and no reference setting reaches that utility ({seeds_text})."
        rival = min(references, key=lambda c: c["id_top1"])
        return (f"{head}, against {_percent(rival['id_top1'])} % for the most private reference, "
                f"{rival['label']} ({seeds_text}).")
    others = " and ".join(f"{_percent(c['id_top1'])} % for {c['label']}" for c in learned)
    return f"{head}, against {others} ({seeds_text})."


# ----------------------------------------------------------------------------- figures
def privacy_records(evaluation: dict) -> "tuple[list[dict], dict]":
    """(records, sweeps) for :func:`learn.plots.plot_privacy_utility` from the evaluate stage:
    clean and the learned cameras as points, the references as sweeps (the 8 px rows are
    points only where the stage recorded no sweep)."""
    rows, sweeps = evaluation["rows"], evaluation.get("sweeps") or {}
    count = _seed_count(evaluation)
    records = []
    for name, row in rows.items():
        if name in sweeps and sweeps[name]:
            continue
        kind = ("clean" if name == "clean" else "learned" if name.startswith("learned")
                else "baseline")
        n_seeds = row.get("n_seeds", count)

        def pct(key, spread=False):
            missing = _missing(row.get(key)) or (spread and n_seeds < 2)   # no spread from 1 seed
            return "" if missing else f"{100 * row[key]:.2f}"

        records.append({"key": name, "label": _label(name), "kind": kind,
                        "id_top1_mean": pct("id_top1"), "id_top1_std": pct("id_top1_std", True),
                        "face_acc_mean": pct("face_acc"),
                        "face_acc_std": pct("face_acc_std", True),
                        "id_chance": pct("id_chance"), "n_seeds": n_seeds})
    plot_sweeps = {name: [(p["strength_px"], {**p, "n_seeds": p.get("n_seeds", count)})
                          for p in points] for name, points in sweeps.items() if points}
    return records, plot_sweeps


def privacy_figure(out_dir: Path, evaluation: dict) -> "tuple[Path, Path]":
    """Write ``fig5_privacy_utility.png`` and, beside it, the numbers it draws
    (``fig5_privacy_utility.json``: points and sweep curves, percent); return both paths."""
    from learn.plots import plot_privacy_utility, sweep_point

    out_dir = Path(out_dir)
    records, sweeps = privacy_records(evaluation)
    path = Path(plot_privacy_utility(records, sweeps, out_dir / "fig5_privacy_utility.png"))
    data = {"units": "percent", "n_seeds": _seed_count(evaluation),
            "points": [{k: r[k] for k in ("key", "label", "kind", "id_top1_mean", "id_top1_std",
                                          "face_acc_mean", "face_acc_std", "n_seeds")}
                       for r in records],
            "sweeps": {name: [{k: None if isinstance(v, float) and math.isnan(v) else v
                               for k, v in sweep_point(s, r).items()} for s, r in points]
                       for name, points in sweeps.items()}}
    data_path = out_dir / "fig5_privacy_utility.json"
    files.write_json(data_path, data)
    return path, data_path


def _capture_figure(run_dir: Path, path: Path, levels: int = 16) -> "Path | None":
    """Captured (board) vs simulated codes of a face and a no-face frame, labelled: per frame
    the scene beside the board's codes, the simulation's and their difference, filters K0..Kn
    marked along the bottom."""
    captured_file, simulated_file = run_dir / "board_capture.npz", run_dir / "board_simulated.npz"
    if not captured_file.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sensor.simulate import code_preview

    with np.load(captured_file) as data:
        captured, scenes = data["codes"], data["scenes"]
    simulated = None
    if simulated_file.is_file():
        with np.load(simulated_file) as data:
            simulated = data["codes"]
    half = len(captured) - len(captured) // 2     # board_stage: faces first, then no-faces
    frames = sorted({0, half} & set(range(len(captured))))
    filters = max(1, captured.shape[1] // 3)
    aspect = filters * captured.shape[-1] / captured.shape[-2]
    strips = [("board", lambda f: code_preview(captured[f], levels))]
    if simulated is not None:
        strips += [("simulated", lambda f: code_preview(simulated[f], levels)),
                   ("|difference|", lambda f: code_preview(
                       np.abs(captured[f].astype(int) - simulated[f].astype(int)), levels))]
    strip_height = 1.2 if aspect <= 5 else 6.0 / aspect
    fig = plt.figure(figsize=(2.2 + strip_height * aspect + 1.2,
                              len(frames) * (len(strips) * strip_height + 0.9) + 0.3),
                     layout="constrained")
    tile = captured.shape[-1] * 8                 # code_preview's tile width, px
    for sub, frame in zip(np.atleast_1d(fig.subfigures(len(frames), 1)), frames):
        title = f"frame {frame}: {'face' if frame < half else 'no face'}"
        if simulated is not None:
            same = float((captured[frame] == simulated[frame]).mean())
            title += f"; {100 * same:.1f} % of codes identical to the simulation"
        sub.suptitle(title, fontsize=10)
        grid = sub.add_gridspec(len(strips), 2, width_ratios=[1.0, aspect * 0.8])
        scene = sub.add_subplot(grid[:, 0])
        scene.imshow(scenes[frame], interpolation="nearest")
        scene.set_xticks([])
        scene.set_yticks([])
        scene.set_xlabel("scene", fontsize=9)
        for row, (name, draw) in enumerate(strips):
            axis = sub.add_subplot(grid[row, 1])
            axis.imshow(draw(frame), interpolation="nearest", aspect="auto")
            axis.set_yticks([])
            axis.set_ylabel(name, fontsize=9, rotation=0, ha="right", va="center")
            axis.set_xticks([tile * (f + 0.5) for f in range(filters)])
            axis.set_xticklabels([f"K{f}" for f in range(filters)] if row == len(strips) - 1
                                 else [], fontsize=8)
            axis.tick_params(length=0)
    fig.suptitle(f"4-bit codes (0..{levels - 1}) after 8x8 max-pooling, as RGB per filter; "
                 f"board vs simulation (same mismatch and noise seeds; black = no difference)",
                 fontsize=10)
    with files.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


_MASK_CAPTIONS = {
    "height_map": "height map of every mask (nm; axes in mm on the mask)",
    "psf_kernel": "psf kernel: the learned kernel (target) beside the kernel the mask pair "
                  "realises at each wavelength, normalised to the target's peak; axes in µm on "
                  "the sensor",
    "psf_masks": "psf of each mask: target beside the realised PSF per wavelength, normalised "
                 "to the target's peak; axes in µm on the sensor",
    "fidelity_vs_levels": "fidelity vs height levels: worst normalised correlation with the "
                          "target as the heights are quantised",
}


def report_figures(run_dir: Path, results: dict, cameras: bool = True
                   ) -> "list[tuple[str, str, Path]]":
    """(section, caption, path) of every figure, made here (into ``run_dir/figures``) or by
    earlier stages. ``cameras=False`` leaves out the figures that load the learned cameras
    (Fig. 3 and 4), for a report of stage results alone."""
    run_dir = Path(run_dir)
    out = run_dir / "figures"
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    path, _ = privacy_figure(out, results["evaluate"])
    figures.append(("Privacy and utility", "Fig. 5-style: identity accuracy of the strongest "
                                           "attack vs face/no-face accuracy; the reference "
                                           "sweeps as curves: blur, pixelation and the "
                                           "unlearned Gaussian-PSF camera the learned Conv(1) "
                                           "starts from (strengths in px)", path))
    if cameras:
        figures += _camera_figures(run_dir, out)
    for conv in CONVS:
        design = _in_run(run_dir, results[f"masks_{conv}"]["design"])
        known = list(_MASK_CAPTIONS)              # height maps first, then the PSFs
        pngs = sorted((design / "figures").glob("*.png"),
                      key=lambda png: (known.index(png.stem) if png.stem in known
                                       else len(known), png.name))
        for png in pngs:
            about = _MASK_CAPTIONS.get(png.stem, png.stem.replace("_", " "))
            figures.append(("Phase masks", f"{conv}: {about}", png))
        fabrication = _in_run(run_dir, results[f"masks_{conv}"]["fabrication"])
        for png in sorted(fabrication.glob("*.png"))[:2]:
            figures.append(("Phase masks", f"{conv} fabrication preview: {png.stem} "
                                           f"(quantised height levels, grey = level)", png))
    capture = _capture_figure(run_dir, out / "board_capture.png")
    if capture is not None:
        figures.append(("Board", "Frames captured by the board vs the simulation, per frame and "
                                 "filter, with their difference", capture))
    return figures


def _camera_figures(run_dir: Path, out: Path) -> "list[tuple[str, str, Path]]":
    """Fig. 4 (encoded frames) of each learned camera and Fig. 3 (its parameters)."""
    from learn import datasets
    from sensor.design_bundle import load_design_bundle
    from learn.plots import plot_parameters
    from sensor.figures import stage_figure

    figures = []
    faces, nonfaces = datasets.load_faces(), datasets.load_nonfaces()
    examples = [np.asarray(faces.images[0]), np.asarray(nonfaces.images[0])]
    cameras = []
    for conv in CONVS:
        camera = load_design_bundle(run_dir / conv / "design").make_camera()
        cameras.append((f"learned {conv}", camera))
        path = stage_figure(camera, examples, ["face", "no face"], out / f"fig4_{conv}.png")
        figures.append(("Encoded frames", f"Fig. 4-style: scene, after the optics, after 8x8 "
                                          f"max-pooling, after the ADC - learned {conv}; each "
                                          f"filter's RGB image side by side, min-max scaled", path))
    path = Path(plot_parameters(cameras, out / "fig3_parameters.png"))
    figures.append(("Learned parameters", "Fig. 3-style: learned PSF (first filter, normalised "
                                          "to its peak) and ADC transfer curve", path))
    return figures


# ----------------------------------------------------------------------------- the page
def _value(row: dict, key: str) -> str:
    return _percent(row.get(key))


def _privacy_tables(section, evaluation: dict) -> None:
    """The encoder table and the sweep table: one column per quantity; a spread column only
    where two or more seeds give one (one seed: single values, n = 1 said)."""
    count = _seed_count(evaluation)
    spread = count >= 2
    header = ["encoder", "identity top-1 (%)"] + (["± sd (%)"] if spread else []) + [
        "identity top-5 (%)", "strongest attack", "fraction of clean", "face vs no-face (%)"] + (
        ["± sd (%)"] if spread else []) + ["seeds (n)"]
    rows = []
    for name, row in evaluation["rows"].items():
        fraction = row.get("id_fraction_of_clean")
        rows.append([_label(name), _value(row, "id_top1")] + (
            [_value(row, "id_top1_std")] if spread else []) + [
            _value(row, "id_top5"), row.get("strongest_attack") or "–",
            "–" if _missing(fraction) else f"{fraction:.2f}", _value(row, "face_acc")] + (
            [_value(row, "face_acc_std")] if spread else []) + [str(row.get("n_seeds", count))])
    note = (f"means ± sample standard deviation over {count} seeds" if spread else
            "n = 1: one evaluation seed, single values (no spread can be given)")
    section.table(header, rows, caption=f"Every encoder ({note}).")
    sweeps = evaluation.get("sweeps") or {}
    if sweeps:
        header = ["reference", "strength (px)", "identity top-1 (%)"] + (
            ["± sd (%)"] if spread else []) + ["face vs no-face (%)"] + (
            ["± sd (%)"] if spread else []) + ["seeds (n)"]
        rows = [[_SWEEP_NAMES.get(name, name), f"{p['strength_px']:g}", _value(p, "id_top1")] + (
                    [_value(p, "id_top1_std")] if spread else []) + [_value(p, "face_acc")] + (
                    [_value(p, "face_acc_std")] if spread else []) + [str(p.get("n_seeds", count))]
                for name, points in sweeps.items() for p in points]
        section.table(header, rows, caption="The reference sweeps (the curves of the plot): "
                                            "Gaussian blur sigma, pixelation block and the "
                                            "unlearned camera's Gaussian PSF sigma, px.")


def _metric_cell(value) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def build_report(results: dict, settings: dict,
                 figures: "Sequence[tuple[str, str, Path]]") -> Report:
    """The page: stage results (paths relative to the run folder, which the page's links
    assume it sits in) and (section, caption, PNG path) figures, embedded."""
    profile = settings["profile"]
    recipe = settings.get("recipe", "paper")          # run folders from before recipes: the paper's
    report = Report("CAnOPIC demo", intro=f"Profile {profile['name']}, seed {settings['seed']}, "
                                          f"learning recipe {recipe} (learn.recipes), alpha "
                                          f"{settings['alpha']:g}, PSFs learned as "
                                          f"{settings.get('psf_parameterisation', 'taps')}, "
                                          f"kernels {settings['kernel_mode']}, board "
                                          f"{settings['port']}.")
    evaluation = results["evaluate"]
    chance = next(iter(evaluation["rows"].values()))["id_chance"]
    privacy = report.section(
        "Privacy and utility",
        f"Identity: top-1 of the strongest attack ({', '.join(evaluation.get('attacks', []))}) on "
        f"identities the encoder never saw (test split, seeds {evaluation['seeds']}); chance "
        f"{_percent(chance)} %. Face vs no-face: accuracy of a detector trained on the encoded "
        f"data. Lower identity accuracy is more private, higher face accuracy more useful.")
    privacy.claim(privacy_claim(evaluation))
    sections = {"Privacy and utility": privacy}

    training = report.section("Training", "Alternating optimisation (learn.runs): metrics of "
                                          "the last alternation, one column per metric "
                                          "(accuracies as fractions, losses in nats).")
    sections["Training"] = training
    metrics = [results[f"train_{conv}"]["metrics"] for conv in CONVS]
    names = list(dict.fromkeys(key for m in metrics for key in m))
    training.table(["camera", "alternations"] + [n.replace("_", " ") for n in names],
                   [[conv, str(results[f"train_{conv}"]["alternations"])]
                    + [_metric_cell(m[n]) if n in m else "–" for n in names]
                    for conv, m in zip(CONVS, metrics)])
    for heading in ("Encoded frames", "Learned parameters"):
        if any(figure[0] == heading for figure in figures):
            sections[heading] = report.section(heading)
    masks = report.section("Phase masks", "Design fidelity per wavelength (normalised correlation "
                                          "with the target PSF) and fabrication files.")
    sections["Phase masks"] = masks
    for conv in CONVS:
        stage = results[f"masks_{conv}"]
        wavelengths = list(next(iter(stage["kernel_correlation"].values())))
        masks.paragraph(f"{conv}: {len(stage['masks'])} masks ({', '.join(stage['masks'])}); "
                        f"normalised correlation of each realised kernel with the learned one:")
        masks.table(["kernel"] + wavelengths,
                    [[name] + [f"{v:.3f}" for v in per_colour.values()]
                     for name, per_colour in stage["kernel_correlation"].items()])
    board = results["board"]
    board_section = report.section(
        "Board", f"Flashed over {board['port']}; read back byte-identical; captured "
                 f"{board['captured_frames']} frames.")
    sections["Board"] = board_section
    if "simulation_match_fraction" in board:
        board_section.paragraph(f"Captured codes equal to the simulation: "
                                f"{100 * board['simulation_match_fraction']:.2f} % "
                                f"(largest difference {board['simulation_max_code_difference']} "
                                f"codes).")
    tables = results["tables"]
    width = max(len(tables[conv]["codes"]) for conv in CONVS)
    board_section.table(["camera"] + [f"T{i + 1}" for i in range(width)],
                        [[conv] + [str(c) for c in tables[conv]["codes"]]
                         + ["–"] * (width - len(tables[conv]["codes"])) for conv in CONVS],
                        caption="ADC thresholds as 12-bit DAC codes (0..4095 over the 0..15 "
                                "input range), one column per threshold.")
    for heading, caption, path in figures:
        if heading not in sections:
            sections[heading] = report.section(heading)
        sections[heading].figure(path, caption)
    links = [("summary.json", "summary.json: every stage's numbers and settings")]
    for conv in CONVS:
        stage = results[f"masks_{conv}"]
        links.append((f"{Path(stage['fabrication']).as_posix()}/",
                      f"{conv}: fabrication files ({len(stage['files'])}: GDSII, TIFF, PNG, "
                      f"levels) and manifest"))
        links += [(Path(p).as_posix(), f"{conv}: threshold table ({kind})")
                  for kind, p in tables[conv]["files"].items()]
    report.section("Files", "Relative to this page's folder.").links(links)
    _privacy_tables(privacy, evaluation)      # after the claim and the plot
    return report


def write_report(run, results: dict, settings: dict, cameras: bool = True) -> dict:
    """Write ``report.html`` and ``summary.json`` into the run folder ``run.out``; return the
    summary. Every path in both files is relative to the run folder. ``cameras``: see
    :func:`report_figures`.
    """
    run_dir = Path(run.out)
    results = run_relative(results, run_dir)
    figures = report_figures(run_dir, results, cameras=cameras)
    figures = [(h, c, _in_run(run_dir, p)) for h, c, p in figures]
    report = build_report(results, settings, figures)
    report.write(run_dir / "report.html")
    summary: "dict[str, Any]" = run_relative({
        "schema_version": 1, "settings": settings, "report": "report.html",
        "figures": [{"section": h, "caption": c, "path": str(p)} for h, c, p in figures],
        "stages": results}, run_dir)
    files.write_json(run_dir / "summary.json", summary)
    return summary
