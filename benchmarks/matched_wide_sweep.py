"""Matched-utility figures of finished Table 1 results against a blur / pixelation sweep widened
by a later run, computing nothing but the interpolation.

``canopic table1`` writes the matched-utility section from its own task cache; when the rows
were run long ago (their cache gone) and stronger sweep points were run since, this joins the
sweep points of every given ``table1.json`` (later files win on equal strength) and sets each
row's identity top-1 beside the sweeps interpolated to the row's own face accuracy
(``learn.table1.matched_utility``: linear, no extrapolation).

    .venv/bin/python benchmarks/matched_wide_sweep.py docs/results/table1/full_table1.json \\
        docs/results/studies/authors_schedule_a50_table1.json docs/results/studies/wide_sweeps_table1.json \\
        --below 93 --plot docs/results/studies/wide_sweeps_matched.png
"""
from __future__ import annotations

import argparse
import json
import os


def joined_sweeps(documents: "list[dict]") -> "dict[str, list[tuple[float, float]]]":
    """``{name: [(face accuracy, identity top-1), ...]}`` over all documents' sweeps (fractions,
    as table1.json's sweeps hold them; its rows hold percentages),
    one point per strength (the last document's)."""
    by_strength: "dict[str, dict[float, tuple[float, float]]]" = {}
    for document in documents:
        for name, points in (document.get("sweeps") or {}).items():
            for point in points:
                if point.get("face_acc_mean") is None:
                    continue
                by_strength.setdefault(name, {})[float(point["strength_px"])] = (
                    point["face_acc_mean"], point["id_top1_mean"])
    return {name: [by_strength[name][s] for s in sorted(by_strength[name])]
            for name in by_strength}


def matched_rows(documents: "list[dict]", names: "list[str]") -> "list[dict]":
    """Every encoder row (not clean, blur or pixelate) of the documents (``names``: where each
    came from) with the sweeps' identity top-1 at its face accuracy (None outside a sweep's
    range); percentages."""
    from learn.table1 import matched_utility

    sweeps = joined_sweeps(documents)
    records = []
    for document, source in zip(documents, names):
        for row in document.get("rows", []):
            try:  # rows hold percentages as text ('-' where not measured)
                identity, face = float(row["id_top1_mean"]), float(row["face_acc_mean"])
            except (KeyError, TypeError, ValueError):
                continue
            if row["key"] in ("clean", "blur", "pixelate"):
                continue
            record = {"key": row["key"], "source": source, "id_top1": identity, "face_acc": face}
            for name, points in sweeps.items():
                match = matched_utility(face / 100, points)
                record[name] = None if match is None else 100 * match["id_top1"]
            records.append(record)
    return records


def plot(sweeps: "dict[str, list[tuple[float, float]]]", records: "list[dict]", path: str) -> None:
    """Fig. 5-style plot: the sweeps (:func:`joined_sweeps`) as lines, the ``records``
    (:func:`matched_rows`) as labelled points; identity % on x, face % on y."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 6))
    for (name, points), style in zip(sweeps.items(), ("-o", "--s")):
        axes.plot([100 * i for _, i in points], [100 * f for f, _ in points], style,
                  label=f"{name} sweep", alpha=0.7)
    for index, record in enumerate(sorted(records, key=lambda r: r["id_top1"])):
        axes.plot(record["id_top1"], record["face_acc"], "k^")
        axes.annotate(f"{record['key']} ({record['source'].split('_table1')[0]})",
                      (record["id_top1"], record["face_acc"]), fontsize=6,
                      xytext=(3, 3 if index % 2 == 0 else -9), textcoords="offset points")
    axes.set_xlabel("identity top-1 accuracy of the strongest attack (%)  [lower = more private]")
    axes.set_ylabel("face vs no-face accuracy (%)  [higher = more useful]")
    axes.set_title("Privacy vs utility at matched face accuracy (ideal: top left)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=130)
    plt.close(figure)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="table1.json files (sweeps and rows)")
    parser.add_argument("--below", type=float, default=None,
                        help="only rows whose face accuracy (%%) is below this")
    parser.add_argument("--plot", default=None, help="also write the plot (PNG) here")
    args = parser.parse_args(argv)
    documents = [json.load(open(path)) for path in args.tables]
    names = [os.path.basename(path) for path in args.tables]
    sweeps = joined_sweeps(documents)
    records = [record for record in matched_rows(documents, names)
               if args.below is None or record["face_acc"] < args.below]
    for name, points in sweeps.items():
        print(f"{name} sweep (face %, identity %): " + ", ".join(
            f"{100 * f:.1f} / {100 * i:.1f}" for f, i in points))
    for record in records:
        others = ", ".join(f"{name} {'-' if record[name] is None else f'{record[name]:.1f}'}"
                           for name in sweeps)
        print(f"{record['key']} ({record['source']}): {record['id_top1']:.1f} / "
              f"{record['face_acc']:.1f}; sweeps at its face accuracy: {others}")
    if args.plot:
        plot(sweeps, records, args.plot)
        print(f"plot -> {args.plot}")

if __name__ == "__main__":
    main()
