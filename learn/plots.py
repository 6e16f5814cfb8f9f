"""Figures of the evaluation: privacy vs utility (like the paper's Fig. 5) and learned parameters
per alpha (like Fig. 3). matplotlib with the Agg backend; files written atomically."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

_COLOURS = {"baseline": "tab:green", "unlearned": "tab:blue", "learned": "tab:red",
            "published": "tab:purple"}


def _figure_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path) -> str:
    from canopic.core.files import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    _figure_module().close(figure)
    return str(path)


def _number(text) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    return float(text) if text not in ("", None) else math.nan


def _seed_count(record: dict) -> "int | None":
    """Evaluation seeds behind a record: ``n_seeds``, or the length of its ``seeds`` list
    (``"0 1 2"`` in :func:`learn.table1.csv_record`'s records); None when neither is given."""
    if record.get("n_seeds") not in (None, ""):
        return int(record["n_seeds"])
    seeds = record.get("seeds")
    if isinstance(seeds, str) and seeds.strip():
        return len(seeds.split())
    if isinstance(seeds, (list, tuple)):
        return len(seeds)
    return None


def _spread(std, count: "int | None") -> "float | None":
    """An error bar only where it measures something: two or more seeds (or, seeds unknown, a
    positive spread); None draws none."""
    value = _number(std)
    if math.isnan(value) or (count is not None and count < 2) or (count is None and value <= 0):
        return None
    return value


def sweep_point(strength, result) -> dict:
    """One sweep point as ``{"strength_px", "id_top1", "id_top1_std", "face_acc",
    "face_acc_std", "n_seeds"}`` (percent; NaN where not measured).

    ``result`` is a ``learn.evaluation.EvaluationResult`` or a mapping with ``id_top1``,
    ``id_top1_std``, ``face_acc``, ``face_acc_std`` (fractions, as ``canopic demo`` records them)
    and ``n_seeds``. The spreads are NaN from fewer than two seeds.
    """
    if isinstance(result, dict):
        def percent(key):
            value = result.get(key)
            return math.nan if value is None else 100 * float(value)

        point = {"strength_px": float(strength), "id_top1": percent("id_top1"),
                 "id_top1_std": percent("id_top1_std"), "face_acc": percent("face_acc"),
                 "face_acc_std": percent("face_acc_std"), "n_seeds": result.get("n_seeds")}
    else:
        utility = result.utility
        point = {"strength_px": float(strength), "id_top1": 100 * result.privacy.top1.mean,
                 "id_top1_std": 100 * result.privacy.top1.std,
                 "face_acc": 100 * utility.test_accuracy.mean if utility else math.nan,
                 "face_acc_std": 100 * utility.test_accuracy.std if utility else math.nan,
                 "n_seeds": len(result.privacy.top1.values)}
    if point["n_seeds"] is not None and point["n_seeds"] < 2:
        point["id_top1_std"] = point["face_acc_std"] = math.nan     # one seed: no spread
    return point


def _label_groups(points: "list[tuple[float, float, str]]", span: "tuple[float, float]"
                  ) -> "list[tuple[float, float, str]]":
    """Points that (nearly) coincide share one label (``"clean, pixelate"``) instead of printing
    their names over each other; ``span`` is the (x, y) data range that "nearly" is relative to."""
    groups: "list[list]" = []
    for x, y, name in points:
        for group in groups:
            if abs(group[0] - x) <= 0.02 * span[0] and abs(group[1] - y) <= 0.03 * span[1]:
                group[2].append(name)
                break
        else:
            groups.append([x, y, [name]])
    return [(x, y, ", ".join(names)) for x, y, names in groups]


#: Label positions tried in turn (offset in points, alignment) until one overlaps no marker or
#: label and stays inside the axes.
_LABEL_SPOTS = [(6, -4, "left", "top"), (6, 4, "left", "bottom"), (-6, -4, "right", "top"),
                (-6, 4, "right", "bottom"), (0, -9, "center", "top"), (0, 9, "center", "bottom"),
                (6, -16, "left", "top"), (-6, -16, "right", "top"), (6, 16, "left", "bottom"),
                (-6, 16, "right", "bottom")]


def _place_labels(figure, axes, labels, points) -> None:
    """Annotate each ``(x, y, text, style)`` of ``labels`` at the first of :data:`_LABEL_SPOTS`
    whose text lies inside the axes and clear of the markers at ``points`` and of the labels
    placed before it (else at the first spot inside the axes, else the first)."""
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    pad = 4 * figure.dpi / 72
    taken = []
    for x, y in points:
        px, py = axes.transData.transform((x, y))
        taken.append((px - pad, py - pad, px + pad, py + pad))

    def clear(box, others) -> bool:
        return all(box.x1 < a or box.x0 > c or box.y1 < b or box.y0 > d for a, b, c, d in others)

    for x, y, text, style in labels:
        fallback = None
        for dx, dy, ha, va in _LABEL_SPOTS:
            note = axes.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                 ha=ha, va=va, **style)
            box = note.get_window_extent(renderer)
            inside = (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
                      and box.y1 <= frame.y1)
            if inside and clear(box, taken):
                break
            if fallback is None and inside:
                fallback = (dx, dy, ha, va)
            note.remove()
        else:
            dx, dy, ha, va = fallback or _LABEL_SPOTS[0]
            note = axes.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points",
                                 ha=ha, va=va, **style)
            box = note.get_window_extent(renderer)
        taken.append((box.x0, box.y0, box.x1, box.y1))


#: (sweep name, marker, line style, colour) of the reference sweeps :func:`privacy_utility_figure`
#: draws, in this order; the legend names that are not the sweep's own.
_SWEEP_STYLES = (("blur", "o", "-", "tab:green"), ("pixelate", "s", "--", "tab:olive"),
                 ("gaussian_camera", "^", ":", "tab:purple"))
SWEEP_LABELS = {"gaussian_camera": "unlearned Gaussian camera"}


def privacy_utility_figure(records: "Sequence[dict]", sweeps: dict):
    """The Fig. 5 figure of :func:`plot_privacy_utility`, not saved (a matplotlib Figure).

    The sweeps are lines labelled ``"blur sweep (...)"`` / ``"pixelate sweep (...)"`` /
    ``"unlearned Gaussian camera sweep (...)"`` (sweep ``"gaussian_camera"``); error
    bars (one standard deviation over seeds) are drawn only where two or more seeds were
    evaluated; every label lies inside the axes, clear of the markers and of each other where
    there is room.
    """
    plt = _figure_module()
    figure, axes = plt.subplots(figsize=(8.0, 6.2))
    xs, ys, markers, labels = [], [], [], []

    def extent(x, y, xerr, yerr) -> None:
        xs.extend([x - (xerr or 0.0), x + (xerr or 0.0)])
        ys.extend([y - (yerr or 0.0), y + (yerr or 0.0)])
        markers.append((x, y))

    # the sweeps apart by colour and line as well as marker (all are references)
    for name, marker, line, colour in _SWEEP_STYLES:
        points = sorted((sweep_point(s, r) for s, r in sweeps.get(name, [])),
                        key=lambda p: p["strength_px"])
        points = [p for p in points if not (math.isnan(p["id_top1"]) or math.isnan(p["face_acc"]))]
        if not points:
            continue
        strengths = ", ".join(f"{p['strength_px']:g}" for p in points)
        axes.plot([p["id_top1"] for p in points], [p["face_acc"] for p in points], line,
                  marker=marker, color=colour, alpha=0.8, lw=1.6, ms=6,
                  label=f"{SWEEP_LABELS.get(name, name)} sweep ({strengths} px)")
        for p in points:
            xerr = _spread(p["id_top1_std"], p["n_seeds"])
            yerr = _spread(p["face_acc_std"], p["n_seeds"])
            if xerr is not None or yerr is not None:
                axes.errorbar(p["id_top1"], p["face_acc"], xerr=xerr, yerr=yerr, fmt="none",
                              ecolor=colour, alpha=0.6, capsize=2)
            extent(p["id_top1"], p["face_acc"], xerr, yerr)
        labels.append(("sweep", colour, [(p["id_top1"], p["face_acc"], f"{p['strength_px']:g}")
                                         for p in points]))
    seen, named = set(), []
    for record in records:
        x, y = _number(record["id_top1_mean"]), _number(record["face_acc_mean"])
        if math.isnan(x) or math.isnan(y):
            continue
        kind = record["kind"]
        count = _seed_count(record)
        xerr = _spread(record.get("id_top1_std"), count)
        yerr = _spread(record.get("face_acc_std"), count)
        axes.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="o", ms=7, color=_COLOURS.get(kind, "black"),
                      label=None if kind in seen else kind, capsize=3)
        seen.add(kind)
        named.append((x, y, str(record.get("label") or record["key"])))
        extent(x, y, xerr, yerr)
    chances = {round(c, 6) for c in (_number(r.get("id_chance")) for r in records)
               if not math.isnan(c)}
    if len(chances) == 1:
        chance = chances.pop()
        axes.axvline(chance, color="grey", ls=":", lw=1, label=f"chance ({chance:.1f} %)")
        xs.append(chance)
    span = ((max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0) if xs else (1.0, 1.0)
    if xs:
        # room for the labels inside the axes: none is clipped at the frame
        axes.set_xlim(min(xs) - 0.06 * span[0] - 0.5, max(xs) + 0.06 * span[0] + 0.5)
        axes.set_ylim(min(ys) - 0.10 * span[1] - 0.5, max(ys) + 0.10 * span[1] + 0.5)
    axes.set_xlabel("identity top-1 accuracy of the strongest attack (%)  [lower = more private]")
    axes.set_ylabel("face vs no-face accuracy (%)  [higher = more useful]")
    axes.set_title("Privacy vs utility (ideal: top left)")
    axes.grid(alpha=0.3)
    # the legend below the axes, where it hides no point
    axes.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3,
                frameon=False)
    figure.subplots_adjust(left=0.1, right=0.97, top=0.94, bottom=0.24)
    box = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75)
    placed = [(x, y, text, dict(fontsize=9, bbox=box)) for x, y, text in _label_groups(named, span)]
    for _, colour, points in labels:
        # strengths of a sweep that coincide share one label
        placed += [(x, y, f"{text} px", dict(fontsize=8, color=colour, bbox=box))
                   for x, y, text in _label_groups(points, span)]
    _place_labels(figure, axes, placed, markers)
    return figure


def plot_privacy_utility(records: "Sequence[dict]", sweeps: dict, path) -> str:
    """Fig. 5: identity accuracy (strongest attack, x) vs face vs no-face accuracy (y).

    Parameters
    ----------
    records : sequence of dict
        CSV records of :func:`learn.table1.csv_record` (percent strings); ``label`` (optional)
        names the point, ``seeds`` or ``n_seeds`` (optional) counts the evaluation seeds: error
        bars are drawn only for two or more.
    sweeps : dict
        ``{"blur": [(sigma_px, result)], "pixelate": [(block_px, result)]}`` where ``result`` is
        an ``EvaluationResult`` or a mapping (:func:`sweep_point`): drawn as lines so every
        encoder can be compared with a baseline at matched utility.
    path : str or PathLike
        Output .png.
    """
    return _save(privacy_utility_figure(records, sweeps), path)


def plot_parameters(cameras: "Sequence[tuple[str, object]]", path) -> str:
    """Fig. 3: each camera's first PSF (image) and its ADC thresholds (staircase), per alpha.

    Parameters
    ----------
    cameras : sequence of (str, sensor.Camera)
        Title (e.g. ``"alpha = 50"``) and camera; cameras without optics or ADC get blank panels.
    path : str or PathLike
        Output .png.
    """
    plt = _figure_module()
    count = max(1, len(cameras))
    figure, axes = plt.subplots(2, count, figsize=(3.2 * count + 0.6, 6.4), squeeze=False)
    for column, (title, camera) in enumerate(cameras):
        psf = camera.psf
        top, bottom = axes[0, column], axes[1, column]
        if psf is not None:
            kernel = psf[0, 0].detach().numpy()
            limit = float(np.abs(kernel).max()) or 1.0
            size = kernel.shape[-1]
            image = top.imshow(kernel / limit, cmap="RdBu_r", vmin=-1.0, vmax=1.0,
                               extent=[-size / 2, size / 2, size / 2, -size / 2])
            top.set_xlabel("x (sensor pixels)", fontsize=8)
            top.set_ylabel("y (sensor pixels)", fontsize=8)
            top.tick_params(labelsize=8)
            bar = figure.colorbar(image, ax=top, shrink=0.8)
            bar.set_label("PSF weight / peak |weight|", fontsize=8)
            bar.ax.tick_params(labelsize=8)
        else:
            top.axis("off")
        top.set_title(f"{title}: first filter, red channel", fontsize=9)
        thresholds = camera.thresholds
        if thresholds is not None:
            values = np.sort(thresholds.detach().numpy())
            x = np.linspace(0.0, 15.0, 601)
            bottom.plot(x, (x[:, None] > values[None, :]).sum(axis=1), color="black", lw=1)
            bottom.set_title(f"{len(np.unique(np.round(values, 4)))} distinct thresholds",
                             fontsize=9)
        bottom.set_xlabel("ADC input (normalised, 0..15)", fontsize=8)
        bottom.set_ylabel("output code", fontsize=8)
        bottom.tick_params(labelsize=8)
        bottom.grid(alpha=0.3)
    figure.suptitle("Learned kernel (top) and quantiser (bottom) per camera")
    figure.tight_layout()
    return _save(figure, path)
