"""Table 1 written out: ``table1.csv``, ``table1.md`` (with the paper-claim check and the
comparison at matched utility) and ``table1.json``.

The figures (Fig. 3, Fig. 5) are drawn by ``learn.plots`` from the same records.
"""
from __future__ import annotations

from learn.table1_results import (CSV_COLUMNS, RowResult, claim_check, csv_record,
                                  matched_comparison)
from learn.table1_rows import PHYSICAL_CAMERA


def write_table1(results: "list[RowResult]", out_dir, sweeps: "dict | None" = None,
                 meta: "dict | None" = None) -> "dict[str, str]":
    """Write ``table1.csv``, ``table1.md`` and ``table1.json`` (sweeps, settings) into ``out_dir``.

    The Markdown and JSON also give the paper-claim check (:func:`claim_check`) and every
    encoder at matched utility against the sweeps (:func:`matched_comparison`).

    Returns
    -------
    dict
        ``{"csv": path, "md": path, "json": path}``.
    """
    import csv
    import io
    import os

    from canopic.core.files import write_json, write_text

    clean = next((r.result for r in results if r.row.key == "clean"), None)
    records = [csv_record(item, clean) for item in results]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    paths = {"csv": os.path.join(out_dir, "table1.csv"), "md": os.path.join(out_dir, "table1.md"),
             "json": os.path.join(out_dir, "table1.json")}
    write_text(paths["csv"], buffer.getvalue())
    claim = claim_check(results, sweeps=sweeps)
    matched = matched_comparison(results, sweeps)
    write_text(paths["md"], markdown_table(records, meta or {})
               + "\n".join(claim_lines(claim) + matched_lines(matched)) + "\n")
    sweep_json = {name: [{"strength_px": s, "id_top1_mean": r.privacy.top1.mean,
                          "id_top1_std": r.privacy.top1.std,
                          "face_acc_mean": r.utility.test_accuracy.mean if r.utility else None,
                          "face_acc_std": r.utility.test_accuracy.std if r.utility else None,
                          "ver_acc_mean": r.verification.accuracy.mean if r.verification else None,
                          "ver_auc_mean": r.verification.auc.mean if r.verification else None}
                         for s, r in points] for name, points in (sweeps or {}).items()}
    write_json(paths["json"], {"schema": 1, "meta": meta or {}, "rows": records,
                               "sweeps": sweep_json, "physical_camera": PHYSICAL_CAMERA,
                               "claim": claim, "matched_utility": matched})
    return paths


def markdown_table(records: "list[dict]", meta: dict) -> str:
    """Table 1 in Markdown: ours (mean +- std over seeds) beside the paper's numbers."""
    def cell(record: dict, mean: str, std: str) -> str:
        return "-" if not record[mean] else f"{record[mean]} +- {record[std]}"

    lines = ["# Table 1 (ours vs the paper)", "",
             "Identity: top-1 accuracy (%) of the strongest attack of the suite on the test split "
             "(mean +- std over seeds); face: face vs no-face accuracy (%). Hard quantiser. "
             "Physical: the same encoder through the physical camera (see table1.json). "
             "Verification: accuracy (%, chance 50) and ROC AUC of the strongest LFW "
             "verification attack on pairs of people no fit has seen (learn.verification).", ""]
    for key, value in meta.items():
        lines.append(f"- {key}: {value}")
    lines += ["", "| configuration | kind | ID (ours) | strongest | ID / clean | face (ours) | "
              "ID (paper) | face (paper) | ID physical | face physical | verification | "
              "AUC | status |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['label']} | {r['kind']} | {cell(r, 'id_top1_mean', 'id_top1_std')} | "
                     f"{r['strongest_attack'] or '-'} | {r['id_fraction_of_clean'] or '-'} | "
                     f"{cell(r, 'face_acc_mean', 'face_acc_std')} | {r['paper_id'] or '-'} | "
                     f"{r['paper_face'] or '-'} | "
                     f"{cell(r, 'phys_id_top1_mean', 'phys_id_top1_std')} | "
                     f"{cell(r, 'phys_face_acc_mean', 'phys_face_acc_std')} | "
                     f"{cell(r, 'ver_acc_mean', 'ver_acc_std')} | "
                     f"{cell(r, 'ver_auc_mean', 'ver_auc_std')} | {r['status']} |")
    chance = next((r["id_chance"] for r in records if r["id_chance"]), "")
    lines += ["", f"Chance: identity top-1 {chance or '-'} %; face vs no-face: the majority class "
              "(column face_chance of table1.csv).", ""]
    return "\n".join(lines)


def matched_lines(table: "list[dict]") -> "list[str]":
    """:func:`matched_comparison` as a Markdown section (percentages; '-' outside a sweep)."""
    if not table:
        return []
    def cell(value: "float | None") -> str:
        return "-" if value is None else f"{100 * value:.1f}"

    lines = ["", "## At matched utility", "",
             "Identity top-1 (%) of each encoder beside the blur and pixelation sweeps "
             "interpolated to the same face accuracy (`learn.table1.matched_comparison`; "
             "'-': the face accuracy lies outside the sweep). Lower is more private.", "",
             "| configuration | kind | face | ID (ours) | ID blur | ID pixelation |",
             "|---|---|---|---|---|---|"]
    for entry in table:
        lines.append(f"| {entry['label']} | {entry['kind']} | {cell(entry['face_acc'])} | "
                     f"{cell(entry['id_top1'])} | {cell(entry['blur'])} | "
                     f"{cell(entry['pixelate'])} |")
    return lines + [""]


def claim_lines(claim: "dict | None") -> "list[str]":
    """Markdown bullet lines stating :func:`claim_check`'s verdict in words."""
    if claim is None:
        return ["- Paper claim: not checked (needs the blur, pixelate and design rows)."]
    lines = [f"- Paper claim (`{claim['design']}` more private AND more useful than blur and "
             f"pixelation): on the means {'HOLDS' if claim['holds_on_means'] else 'DOES NOT HOLD'}"
             f"; on every seed {'holds' if claim['holds_every_seed'] else 'does not hold'}."]
    for baseline in ("blur", "pixelate"):
        part = claim[baseline]
        lines.append(f"  - vs {baseline}: identity {100 * part['id_top1'][0]:.1f} vs "
                     f"{100 * part['id_top1'][1]:.1f} % (more private on "
                     f"{part['seeds_more_private']}/{part['seeds']} seeds), face "
                     f"{100 * part['face_acc'][0]:.1f} vs {100 * part['face_acc'][1]:.1f} % "
                     f"(more useful on {part['seeds_more_useful']}/{part['seeds']} seeds)")
        matched = part.get("matched_utility")
        if matched is not None:
            lines.append(f"    - at matched utility ({100 * matched['face_acc']:.1f} % face, the "
                         f"{baseline} sweep interpolated): identity {100 * part['id_top1'][0]:.1f}"
                         f" vs {100 * matched['id_top1']:.1f} % -> "
                         f"{'more' if matched['more_private'] else 'LESS'} private"
                         + (f", within the design's spread over seeds (+- "
                            f"{100 * matched['design_std']:.1f})"
                            if matched.get("within_spread") else ""))
    if claim["alpha_monotone"] is not None:
        values = ", ".join(f"alpha {a:g}: {100 * v:.1f} %" for a, v in claim["alpha_id_top1"])
        lines.append(f"- Raising alpha {'lowers' if claim['alpha_monotone'] else 'does NOT lower'}"
                     f" identity accuracy ({values}).")
    return lines
