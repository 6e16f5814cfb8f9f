"""The demo's results page from synthetic stage results (no training, seconds): relative paths
that survive a moved run folder, the privacy-utility plot with the reference sweeps as curves,
one table column per metric, no spread claimed from one seed, a claim computed from the numbers,
and figures whose labels stay inside them."""
import json
import os
import shutil
import types
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from canopic.app import demo_report

METRICS = {"alternation": 5, "hardness": 5.0, "recogniser_val_acc": 0.412,
           "detector_val_acc": 0.951, "encoder_loss_last": 0.6123, "identity_entropy_last": 3.21}
# (identity top-1, face vs no-face) as fractions, like the quick profile's shape
ROWS = {"clean": (0.72, 0.98), "blur": (0.31, 0.958), "pixelate": (0.40, 0.95),
        "learned_conv1": (0.42, 0.965), "learned_conv4": (0.456, 0.978)}
SWEEPS = {"blur": {4.0: (0.55, 0.975), 8.0: (0.31, 0.958), 16.0: (0.12, 0.90)},
          "pixelate": {4.0: (0.60, 0.97), 8.0: (0.40, 0.95), 16.0: (0.15, 0.88)},
          "gaussian_camera": {2.0: (0.50, 0.976), 8.0: (0.33, 0.955), 16.0: (0.14, 0.89)}}


def _entry(id_top1, face, seeds):
    spread = 0.0 if len(seeds) < 2 else 0.02
    return {"id_top1": id_top1, "id_top1_std": spread, "id_top5": min(1.0, id_top1 + 0.2),
            "strongest_attack": "knn", "id_chance": 1 / 30,
            "id_fraction_of_clean": id_top1 / ROWS["clean"][0], "face_acc": face,
            "face_acc_std": spread, "n_seeds": len(seeds)}


def evaluation(seeds=(0,), rows=ROWS):
    return {"rows": {name: _entry(*values, seeds) for name, values in rows.items()},
            "sweeps": {name: [{"strength_px": s, **_entry(*values, seeds)}
                              for s, values in points.items()] for name, points in SWEEPS.items()},
            "seeds": list(seeds), "attacks": ["logistic", "knn"]}


def demo_style_run(folder: Path, seeds=(0,), rows=ROWS, make_files=True
                   ) -> "tuple[Path, dict, dict]":
    """A run folder with the files the demo's stages leave (mask figures drawn by the real
    optics plots, fabrication previews, threshold tables, board captures) and stage results
    that name them by ABSOLUTE path, as the stages of older runs recorded them.
    ``make_files=False``: the results alone."""
    from optics import plots

    rng = np.random.default_rng(0)
    folder = Path(folder).resolve()
    results = {}
    for conv, filters in (("conv1", 1), ("conv4", 4)):
        design, fabrication, tables = (folder / conv / name for name in
                                       ("mask_design", "fabrication", "tables"))
        names = [f"f{f}_{part}" for part in ("plus", "minus") for f in range(filters)]
        results[f"train_{conv}"] = {"design": str(folder / conv / "design"), "alternations": 6,
                                    "metrics": dict(METRICS)}
        results[f"masks_{conv}"] = {
            "design": str(design), "fabrication": str(fabrication), "masks": names,
            "kernel_correlation": {f"K{f}": {"640nm": 0.61, "532nm": 0.93, "450nm": 0.55}
                                   for f in range(filters)},
            "files": [f"{name}.gds" for name in names]}
        if not make_files:
            continue
        for path in (design / "figures", fabrication, tables):
            path.mkdir(parents=True)
        plots.plot_height_maps(design / "figures" / "height_map.png",
                               rng.uniform(0, 1.1e-6, (len(names), 32, 32)), names, 2e-6, 1.16e-6)
        kernel = rng.normal(size=(filters, 11, 11))
        plots.plot_psfs(design / "figures" / "psf_kernel.png", kernel,
                        kernel[:, None] + 0.1 * rng.normal(size=(filters, 3, 11, 11)),
                        [640e-9, 532e-9, 450e-9], [f"K{f}" for f in range(filters)], 4e-6,
                        signed=True)
        for name in names:
            shutil.copy(design / "figures" / "height_map.png", fabrication / f"{name}_preview.png")
            (fabrication / f"{name}.gds").write_bytes(b"gds")
        (fabrication / "manifest.json").write_text("{}")
        for kind in ("bin", "json", "hex"):
            (tables / f"thresholds.{kind}").write_text(kind)
    if make_files:
        codes = rng.integers(0, 16, size=(4, 12, 8, 8)).astype(np.uint8)
        scenes = rng.integers(0, 255, size=(4, 64, 64, 3)).astype(np.uint8)
        np.savez_compressed(folder / "board_capture.npz", codes=codes, scenes=scenes)
        np.savez_compressed(folder / "board_simulated.npz", codes=codes)
    results["tables"] = {conv: {"codes": list(range(137, 4096, 273)), "files": {
        kind: str(folder / conv / "tables" / f"thresholds.{kind}")
        for kind in ("bin", "json", "hex")}}
        for conv in ("conv1", "conv4")}
    results["board"] = {"port": "emulator", "captured_frames": 4, "simulation_match_fraction": 1.0,
                        "simulation_max_code_difference": 0,
                        "flashed": {"thresholds": {"sha256": "00"}}}
    results["evaluate"] = evaluation(seeds, rows)
    settings = {"profile": {"name": "synthetic"}, "seed": 0, "alpha": 1.0,
                "kernel_mode": "two_mask", "port": "emulator", "board_seed": 7}
    return folder, results, settings


def write(folder, seeds=(0,), rows=ROWS):
    """A demo-style run folder with its report.html and summary.json (no learned cameras)."""
    folder, results, settings = demo_style_run(folder, seeds, rows)
    demo_report.write_report(types.SimpleNamespace(out=folder), results, settings, cameras=False)
    return folder


def page_html(seeds=(0,), rows=ROWS) -> str:
    """The page alone (no figures, no files): fast, for the tables and text."""
    _, results, settings = demo_style_run(Path("/nonexistent/run"), seeds, rows, make_files=False)
    return demo_report.build_report(demo_report.run_relative(results, "/nonexistent/run"),
                                    settings, []).render()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One demo-style run folder, written at a place the tests then copy it away from."""
    return write(tmp_path_factory.mktemp("report") / "run")


class _Page(HTMLParser):
    """Tables (header, body rows), link/image targets and text of a page."""

    def __init__(self, text):
        super().__init__()
        self.tables, self.targets, self.text, self._cell = [], [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append({"header": [], "rows": []})
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = []
        for key in ("href", "src"):
            if attrs.get(key):
                self.targets.append(attrs[key])

    def handle_endtag(self, tag):
        if tag in ("th", "td"):
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            table = self.tables[-1]
            if table["header"]:
                table["rows"].append(self._row)
            else:
                table["header"] = self._row

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_paths_are_relative_and_resolve_after_the_run_folder_moves(written, tmp_path):
    new = tmp_path / "moved" / "elsewhere"
    shutil.copytree(written, new)
    html, summary_text = (new / "report.html").read_text(), (new / "summary.json").read_text()
    for text in (html, summary_text):
        assert str(written) not in text and str(written.parent) not in text
    summary = json.loads(summary_text)
    assert summary["report"] == "report.html"
    for value in _strings(summary):
        assert not os.path.isabs(value), value
    for figure in summary["figures"]:
        assert (new / figure["path"]).is_file(), figure
    stages = summary["stages"]
    for conv in ("conv1", "conv4"):
        assert (new / stages[f"masks_{conv}"]["fabrication"]).is_dir()
        assert (new / stages[f"masks_{conv}"]["design"]).is_dir()
        for path in stages["tables"][conv]["files"].values():
            assert (new / path).is_file()
    page = _Page(html)
    linked = [t for t in page.targets if not t.startswith("data:")]
    assert "summary.json" in linked and len(linked) >= 7
    for target in linked:
        assert not os.path.isabs(target) and "://" not in target, target
        resolved = (new / target).resolve()
        assert resolved.exists() and new.resolve() in (resolved, *resolved.parents), target


def test_privacy_plot_draws_the_reference_sweeps_as_curves(written):
    from learn.plots import SWEEP_LABELS, privacy_utility_figure

    records, sweeps = demo_report.privacy_records(evaluation())
    figure = privacy_utility_figure(records, sweeps)
    curves = {line.get_label().split(" (")[0]: line for line in figure.axes[0].get_lines()}
    for name, points in SWEEPS.items():   # each reference family a curve, named in the legend
        line = curves[f"{SWEEP_LABELS.get(name, name)} sweep"]
        assert list(line.get_xdata()) == pytest.approx([100 * v[0] for v in points.values()])
        assert list(line.get_ydata()) == pytest.approx([100 * v[1] for v in points.values()])
    # the data drawn, written beside the figure
    data = json.loads((written / "figures" / "fig5_privacy_utility.json").read_text())
    assert [p["strength_px"] for p in data["sweeps"]["blur"]] == [4.0, 8.0, 16.0]
    assert [p["strength_px"] for p in data["sweeps"]["pixelate"]] == [4.0, 8.0, 16.0]
    assert [p["strength_px"] for p in data["sweeps"]["gaussian_camera"]] == [2.0, 8.0, 16.0]
    assert "unlearned Gaussian camera sweep" in curves
    assert {p["key"] for p in data["points"]} == {"clean", "learned_conv1", "learned_conv4"}


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_error_bars_only_from_two_or_more_seeds(seeds):
    from learn.plots import privacy_utility_figure

    figure = privacy_utility_figure(*demo_report.privacy_records(evaluation(seeds)))
    bars = [c for c in figure.axes[0].containers if c.has_xerr or c.has_yerr]
    assert bool(bars) == (len(seeds) >= 2)


def test_metrics_are_a_table_with_one_column_per_metric(written):
    page = _Page((written / "report.html").read_text())
    table = next(t for t in page.tables if t["header"][:2] == ["camera", "alternations"])
    assert table["header"][2:] == [name.replace("_", " ") for name in METRICS]
    assert [row[0] for row in table["rows"]] == ["conv1", "conv4"]
    for row in table["rows"]:
        assert len(row) == len(table["header"])
        assert not any("=" in cell or ", " in cell for cell in row)
    assert table["rows"][0][table["header"].index("recogniser val acc")] == "0.412"
    for t in page.tables:       # every table is rectangular
        assert all(len(row) == len(t["header"]) for row in t["rows"])


def test_one_seed_gives_single_values_and_says_n_1(written):
    html = (written / "report.html").read_text()
    assert "±" not in html and "n = 1" in html
    page = _Page(html)
    table = next(t for t in page.tables if t["header"][0] == "encoder")
    assert "seeds (n)" in table["header"] and all(row[-1] == "1" for row in table["rows"])
    table = next(t for t in _Page(page_html(seeds=(0, 1, 2))).tables if t["header"][0] == "encoder")
    assert table["header"][2] == "± sd (%)" and table["rows"][0][2] == "2.0"


def test_the_claim_is_computed_from_the_numbers():
    claim = demo_report.privacy_claim(evaluation())
    # blur 8 px (31 %) is the most private at the learned cameras' face accuracy (>= 95.5 %)
    assert "at least 95.5 %" in claim and "most private is Gaussian blur 8 px" in claim
    assert "not a learned camera" in claim and "45.6 % for learned Conv(4)" in claim
    assert "one evaluation seed" in claim and claim.count(". ") == 0
    better = dict(ROWS, learned_conv4=(0.20, 0.978))
    claim = demo_report.privacy_claim(evaluation((0, 1, 2), better))
    assert "most private is learned Conv(4)" in claim and "20.0 %" in claim
    assert "Gaussian blur 8 px" in claim and "means over 3 evaluation seeds" in claim


def test_claim_sits_above_the_plot(written):
    html = (written / "report.html").read_text()
    assert html.index("class='claim'") < html.index("Fig. 5-style") < html.index("seeds (n)")


def test_plot_labels_stay_inside_the_axes():
    from learn.plots import privacy_utility_figure

    figure = privacy_utility_figure(*demo_report.privacy_records(evaluation()))
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    frame = axes.get_window_extent(renderer)
    texts = axes.texts
    assert any("clean" in t.get_text() for t in texts)
    for text in texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text.get_text()
        assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, text.get_text()


def test_mask_figures_are_a_grid_with_colour_bars_and_units(monkeypatch, tmp_path):
    from optics import plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: drawn.append(figure))
    names = [f"f{f}_{part}" for part in ("plus", "minus") for f in range(4)]
    plots.plot_height_maps(tmp_path / "h.png", np.zeros((8, 16, 16)), names, 2e-6, 1.16e-6)
    panels = [a for a in drawn[0].axes if a.get_title()]
    rows = {round(a.get_position().y0, 3) for a in panels}
    assert len(panels) == 8 and len(rows) == 2                   # 4 x 2, not 8 in a row
    assert sum(a.get_ylabel() == "y (mm)" for a in panels) == 2  # labels on the outer panels
    plots.plot_psfs(tmp_path / "p.png", np.ones((2, 11, 11)), np.ones((2, 3, 11, 11)),
                    [640e-9, 532e-9, 450e-9], ["K0", "K1"], 4e-6)
    labels = [a.get_ylabel() for a in drawn[1].axes] + [a.get_xlabel() for a in drawn[1].axes]
    assert sum("normalised intensity" in label for label in labels) == 2   # a bar per row
    assert "x (µm)" in labels and "y (µm)" in labels


def test_run_relative_keeps_outside_paths_and_plain_strings(tmp_path):
    inside = tmp_path / "run" / "conv1" / "design"
    value = {"a": str(inside), "b": ["/dev/ttyACM0", "knn", "f0_plus.gds"], "c": 1.5,
             "d": str(tmp_path / "run")}
    out = demo_report.run_relative(value, tmp_path / "run")
    assert out == {"a": "conv1/design", "b": ["/dev/ttyACM0", "knn", "f0_plus.gds"], "c": 1.5,
                   "d": "."}
