"""The demo's figures, ``report.html`` (one file, figures embedded) and ``summary.json``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from canopic.core import files
from canopic.app.report import Report


def _percent(value: "float | None") -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f}"


def _capture_figure(run_dir: Path, path: Path) -> "Path | None":
    """Captured (board) vs simulated codes, first frames, as upscaled RGB tiles."""
    captured_file, simulated_file = run_dir / "board_capture.npz", run_dir / "board_simulated.npz"
    if not captured_file.is_file():
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sensor.simulate import code_preview

    captured = np.load(captured_file)["codes"]
    scenes = np.load(captured_file)["scenes"]
    simulated = np.load(simulated_file)["codes"] if simulated_file.is_file() else None
    count = min(4, len(captured))
    columns = 3 if simulated is not None else 2
    fig, axes = plt.subplots(count, columns, figsize=(4.2 * columns, 2.2 * count), squeeze=False)
    for row in range(count):
        panels = [("scene", scenes[row]), ("captured by the board", code_preview(captured[row], 16))]
        if simulated is not None:
            panels.append(("simulated (same mismatch and noise seeds)", code_preview(simulated[row], 16)))
        for col, (title, image) in enumerate(panels):
            axes[row][col].imshow(image, interpolation="nearest")
            axes[row][col].set_xticks([])
            axes[row][col].set_yticks([])
            if row == 0:
                axes[row][col].set_title(title, fontsize=9)
    fig.tight_layout()
    with files.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def _figures(run, results: dict) -> "list[tuple[str, str, Path]]":
    """(section, caption, path) of every figure, made here or by earlier stages."""
    from learn import datasets
    from sensor.design_bundle import load_design_bundle
    from learn.plots import plot_parameters, plot_privacy_utility
    from sensor.figures import stage_figure

    out = run.out / "figures"
    out.mkdir(parents=True, exist_ok=True)
    figures = []
    faces, nonfaces = datasets.load_faces(), datasets.load_nonfaces()
    examples = [np.asarray(faces.images[0]), np.asarray(nonfaces.images[0])]
    cameras = []
    for conv in ("conv1", "conv4"):
        camera = load_design_bundle(run.out / conv / "design").make_camera()
        cameras.append((f"learned {conv}", camera))
        path = stage_figure(camera, examples, ["face", "no face"], out / f"fig4_{conv}.png")
        figures.append(("Encoded frames", f"Fig. 4-style: scene, after the optics, after 8x8 "
                                          f"max-pooling, after the ADC - learned {conv}", path))
    path = Path(plot_parameters(cameras, out / "fig3_parameters.png"))
    figures.append(("Learned parameters", "Fig. 3-style: learned PSF (first filter) and ADC "
                                          "thresholds", path))
    rows = results["evaluate"]["rows"]
    records = [{"key": name, "kind": "learned" if name.startswith("learned") else "baseline",
                "id_top1_mean": _percent(r["id_top1"]), "id_top1_std": _percent(r["id_top1_std"]),
                "face_acc_mean": _percent(r["face_acc"]), "face_acc_std": _percent(r["face_acc_std"])}
               for name, r in rows.items()]
    path = Path(plot_privacy_utility(records, {}, out / "fig5_privacy_utility.png"))
    figures.append(("Privacy and utility", "Fig. 5-style: identity accuracy of the strongest "
                                           "attack vs face/no-face accuracy", path))
    for conv in ("conv1", "conv4"):
        design = Path(results[f"masks_{conv}"]["design"])
        for png in sorted((design / "figures").glob("*.png")):
            figures.append(("Phase masks", f"{conv}: {png.stem.replace('_', ' ')}", png))
        fabrication = Path(results[f"masks_{conv}"]["fabrication"])
        for png in sorted(fabrication.glob("*.png"))[:2]:
            figures.append(("Phase masks", f"{conv} fabrication preview: {png.stem}", png))
    capture = _capture_figure(run.out, out / "board_capture.png")
    if capture is not None:
        figures.append(("Board", "Frames captured by the board vs the simulation", capture))
    return figures


def write_report(run, results: dict, settings: dict) -> dict:
    """Write ``report.html`` and ``summary.json`` into the run folder; return the summary."""
    figures = _figures(run, results)
    report = Report("CAnOPIC demo", intro=f"Profile {settings['profile']['name']}, seed "
                                          f"{settings['seed']}, alpha {settings['alpha']}, kernels "
                                          f"{settings['kernel_mode']}, board {settings['port']}.")
    training = report.section("Training", "Alternating optimisation (learn.runs); last alternation:")
    training.table(["camera", "alternations", "metrics (last alternation)"],
                   [[conv, results[f"train_{conv}"]["alternations"],
                     ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in results[f"train_{conv}"]["metrics"].items())]
                    for conv in ("conv1", "conv4")])
    evaluation = results["evaluate"]
    privacy = report.section(
        "Privacy and utility",
        f"Identity: top-1 of the strongest attack on identities the encoder never saw (test split, "
        f"seeds {evaluation['seeds']}); chance {100 * next(iter(evaluation['rows'].values()))['id_chance']:.1f}%. "
        f"Face vs no-face: accuracy of a detector trained on the encoded data.")
    privacy.table(["encoder", "identity top-1 %", "strongest attack", "fraction of clean",
                   "face vs no-face %"],
                  [[name, f"{_percent(r['id_top1'])} ± {_percent(r['id_top1_std'])}",
                    r["strongest_attack"], f"{r['id_fraction_of_clean']:.2f}",
                    f"{_percent(r['face_acc'])} ± {_percent(r['face_acc_std'])}"]
                   for name, r in evaluation["rows"].items()])
    masks = report.section("Phase masks", "Design fidelity per wavelength (normalised correlation "
                                          "with the target PSF) and fabrication files.")
    for conv in ("conv1", "conv4"):
        stage = results[f"masks_{conv}"]
        masks.paragraph(f"{conv}: masks {', '.join(stage['masks'])}; fabrication folder "
                        f"{stage['fabrication']} ({len(stage['files'])} files).")
        masks.table(["kernel"] + list(next(iter(stage["kernel_correlation"].values()))),
                    [[name] + [f"{v:.3f}" for v in per_colour.values()]
                     for name, per_colour in stage["kernel_correlation"].items()],
                    caption=f"{conv}: normalised correlation of the realised kernel with the learned one")
    board = results["board"]
    board_section = report.section(
        "Board", f"Flashed over {board['port']}; read back byte-identical; captured "
                 f"{board['captured_frames']} frames.")
    if "simulation_match_fraction" in board:
        board_section.paragraph(f"Captured codes equal to the simulation: "
                                f"{100 * board['simulation_match_fraction']:.2f}% "
                                f"(largest difference {board['simulation_max_code_difference']} codes).")
    tables = results["tables"]
    board_section.table(["camera", "DAC codes (12 bit)", "files"],
                        [[conv, " ".join(map(str, tables[conv]["codes"])),
                          ", ".join(Path(p).name for p in tables[conv]["files"].values())]
                         for conv in ("conv1", "conv4")])
    sections = {section.heading: section for section in report.sections}
    for heading, caption, path in figures:
        target = sections.get(heading) or report.section(heading)
        sections[heading] = target
        target.figure(path, caption)
    report_path = report.write(run.out / "report.html")
    summary: "dict[str, Any]" = {
        "schema_version": 1, "settings": settings, "report": str(report_path),
        "figures": [{"section": h, "caption": c, "path": str(p)} for h, c, p in figures],
        "stages": results}
    files.write_json(run.out / "summary.json", summary)
    return summary
