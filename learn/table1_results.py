"""Table 1's results and the numbers read off them: rows' records, the baselines at matched
utility, the paper's claim.

:class:`RowResult` holds one evaluated row (its ``learn.evaluation.EvaluationResult``, the
physical twin's, the camera); :func:`merge_row_seeds` joins a row's per-seed results;
:func:`csv_record` is a row of ``table1.csv``; :func:`matched_comparison` and
:func:`claim_check` compare encoders with the blur and pixelation baselines. Accuracies are
fractions in [0, 1] unless a function says percent.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import torch

from learn.evaluation import EvaluationResult, merge_seeds, relative_privacy
from learn.table1_rows import Row

#: Status prefix of a row whose physical twin could not be built (the ideal columns ran).
PHYSICAL_NOT_RUN = "ok; physical not run"

#: Columns of table1.csv, in order.
CSV_COLUMNS = ("key", "label", "kind", "alpha", "status", "id_top1_mean", "id_top1_std",
               "id_top5_mean", "id_top5_std", "strongest_attack", "id_fraction_of_clean",
               "id_chance", "face_acc_mean", "face_acc_std", "face_chance", "paper_id",
               "paper_face", "phys_id_top1_mean", "phys_id_top1_std", "phys_face_acc_mean",
               "phys_face_acc_std", "ver_acc_mean", "ver_acc_std", "ver_auc_mean", "ver_auc_std",
               "ver_strongest", "seeds", "per_attack_top1", "seconds")


@dataclasses.dataclass
class RowResult:
    """One evaluated row (``result`` None when it could not run; ``status`` says why).

    Attributes
    ----------
    row : Row
    status : str
        "ok", or why the row (or its physical twin, :data:`PHYSICAL_NOT_RUN`) did not run.
    result, physical : EvaluationResult or None
        The ideal camera's and the physical twin's privacy and utility (fractions).
    seconds : float
        Compute time of the row's evaluation, s (summed over seeds once merged).
    camera : torch.nn.Module or None
        The row's ``sensor.Camera`` (on the CPU; None for a baseline).
    """

    row: Row
    status: str
    result: Optional[EvaluationResult] = None
    physical: Optional[EvaluationResult] = None
    seconds: float = 0.0
    camera: Optional[torch.nn.Module] = None


def merge_row_seeds(items: "Sequence[RowResult]") -> RowResult:
    """One row's per-seed results (in seed order) as one :class:`RowResult` over the seeds.

    The status is the first that is not "ok" (a seed that could not run, or whose physical
    twin could not be built, speaks for the row); ``seconds`` is the compute of all seeds;
    ``camera`` is the first seed's (the one Fig. 3 shows).
    """
    items = list(items)
    status = next((item.status for item in items if item.status != "ok"), "ok")
    ran = all(item.result is not None for item in items)
    twins = [item.physical for item in items]
    return RowResult(items[0].row, status,
                     merge_seeds([item.result for item in items]) if ran else None,
                     merge_seeds(twins) if ran and all(t is not None for t in twins) else None,
                     sum(item.seconds for item in items), items[0].camera)


def parameter_cameras(results: "Sequence[RowResult]", config: str = "conv1_mp_q"
                      ) -> "list[tuple[str, torch.nn.Module]]":
    """(title, camera) of ``config``'s unlearned, learned and published rows, for Fig. 3."""
    return [(f"{item.row.kind}" + ("" if item.row.alpha is None else f" alpha={item.row.alpha:g}"),
             item.camera) for item in results
            if item.camera is not None and item.row.key.startswith(config + "_")]


def _percent(value: float) -> str:
    """A fraction as a percentage with two decimals ("" for None or NaN)."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{100.0 * value:.2f}"


def csv_record(item: RowResult, clean: Optional[EvaluationResult]) -> dict:
    """One CSV row (percentages with two decimals; empty where not measured)."""
    row, result = item.row, item.result
    record = {column: "" for column in CSV_COLUMNS}
    record.update(key=row.key, label=row.label, kind=row.kind, status=item.status,
                  alpha="" if row.alpha is None else f"{row.alpha:g}",
                  paper_id="" if row.paper_id is None else f"{row.paper_id:.2f}",
                  paper_face="" if row.paper_face is None else f"{row.paper_face:.2f}",
                  seconds=f"{item.seconds:.1f}")
    if result is not None:
        privacy = result.privacy
        record.update(id_top1_mean=_percent(privacy.top1.mean), id_top1_std=_percent(privacy.top1.std),
                      id_top5_mean=_percent(privacy.top5.mean), id_top5_std=_percent(privacy.top5.std),
                      strongest_attack=privacy.strongest, id_chance=_percent(privacy.chance_top1),
                      seeds=" ".join(str(s) for s in privacy.seeds),
                      per_attack_top1=" ".join(f"{name}={100 * v['test_top1'].mean:.2f}"
                                               for name, v in privacy.per_attack().items()))
        if clean is not None:
            record["id_fraction_of_clean"] = f"{relative_privacy(privacy, clean.privacy):.3f}"
        if result.verification is not None:
            verification = result.verification
            record.update(ver_acc_mean=_percent(verification.accuracy.mean),
                          ver_acc_std=_percent(verification.accuracy.std),
                          ver_auc_mean=f"{verification.auc.mean:.3f}",
                          ver_auc_std=f"{verification.auc.std:.3f}",
                          ver_strongest=verification.strongest)
        if result.utility is not None:
            record.update(face_acc_mean=_percent(result.utility.test_accuracy.mean),
                          face_acc_std=_percent(result.utility.test_accuracy.std),
                          face_chance=_percent(result.utility.chance))
    if item.physical is not None:
        record.update(phys_id_top1_mean=_percent(item.physical.privacy.top1.mean),
                      phys_id_top1_std=_percent(item.physical.privacy.top1.std))
        if item.physical.utility is not None:
            record.update(phys_face_acc_mean=_percent(item.physical.utility.test_accuracy.mean),
                          phys_face_acc_std=_percent(item.physical.utility.test_accuracy.std))
    return record


def matched_utility(face: float, points: "Sequence[tuple[float, float]]") -> "dict | None":
    """A baseline sweep's identity accuracy at ``face`` accuracy, by linear interpolation.

    ``points`` are ``(face accuracy, identity top-1)`` means of the sweep's strengths (fractions).
    Returns ``{"face_acc", "id_top1", "between"}`` (``between``: the two face accuracies
    interpolated between), or None when ``face`` lies outside the sweep's range (no
    extrapolation) or the sweep has fewer than two points.
    """
    points = sorted((float(f), float(i)) for f, i in points)
    for (f0, i0), (f1, i1) in zip(points, points[1:]):
        if f0 <= face <= f1:
            weight = 0.0 if f1 == f0 else (face - f0) / (f1 - f0)
            return {"face_acc": face, "id_top1": i0 + weight * (i1 - i0), "between": [f0, f1]}
    return None


def sweep_points(sweeps: "dict | None", name: str) -> "list[tuple[float, float]]":
    """``(face accuracy, identity top-1)`` means of sweep ``name``'s strengths (fractions), for
    :func:`matched_utility`; strengths without a detector are left out."""
    return [(r.utility.test_accuracy.mean, r.privacy.top1.mean)
            for _, r in (sweeps or {}).get(name, []) if r.utility is not None]


def matched_comparison(results: "Sequence[RowResult]", sweeps: "dict | None") -> "list[dict]":
    """Every encoder row beside the blur and pixelation sweeps at the row's own face accuracy.

    For each row that is not a baseline and has a detector: ``{"key", "label", "kind",
    "face_acc", "id_top1", "blur", "pixelate"}`` (means over seeds, fractions), where
    ``"blur"``/``"pixelate"`` is that sweep's identity top-1 interpolated to the row's face
    accuracy (:func:`matched_utility`), or None outside the sweep's range. A row is more private
    than a baseline at matched utility when its ``id_top1`` is below the baseline's.
    """
    points = {name: sweep_points(sweeps, name) for name in ("blur", "pixelate")}
    table = []
    for item in results:
        result = item.result
        if item.row.kind == "baseline" or result is None or result.utility is None:
            continue
        face = result.utility.test_accuracy.mean
        entry = {"key": item.row.key, "label": item.row.label, "kind": item.row.kind,
                 "face_acc": face, "id_top1": result.privacy.top1.mean}
        for name, sweep in points.items():
            matched = matched_utility(face, sweep)
            entry[name] = None if matched is None else matched["id_top1"]
        table.append(entry)
    return table


def claim_check(results: "Sequence[RowResult]", design: str = "conv4_mp_q_a1_learned",
                sweeps: "dict | None" = None) -> "dict | None":
    """The paper's claim on these results: ``design`` beats blur AND pixelation on both axes.

    Compares the strongest attack's identity top-1 (lower is more private) and the face vs
    no-face accuracy (higher is more useful) of ``design`` with the blur and pixelate rows, on
    the means over seeds and seed by seed (same seeds); and whether identity top-1 falls as
    alpha rises over the learned rows of ``design``'s configuration. None when a row is missing.
    With ``sweeps`` (:func:`run_table1`'s), each baseline also gets ``"matched_utility"``: its
    sweep interpolated to the design's face accuracy (:func:`matched_utility`) and whether the
    design is more private there (None outside the sweep's range), and whether the margin lies
    within the design's standard deviation over seeds (``"within_spread"``).

    Returns
    -------
    dict or None
        ``{"design", "blur": {...}, "pixelate": {...}, "holds_on_means", "holds_every_seed",
        "alpha_monotone", "alpha_id_top1"}`` (accuracies as fractions).
    """
    by_key = {item.row.key: item for item in results if item.result is not None}
    if design not in by_key or "blur" not in by_key or "pixelate" not in by_key:
        return None
    ours = by_key[design].result
    if ours.utility is None:
        return None
    report: dict = {"design": design}
    for baseline in ("blur", "pixelate"):
        theirs = by_key[baseline].result
        if theirs.utility is None:
            return None
        id_pairs = list(zip(ours.privacy.top1.values, theirs.privacy.top1.values))
        face_pairs = list(zip(ours.utility.test_accuracy.values,
                              theirs.utility.test_accuracy.values))
        report[baseline] = {
            "id_top1": [ours.privacy.top1.mean, theirs.privacy.top1.mean],
            "face_acc": [ours.utility.test_accuracy.mean, theirs.utility.test_accuracy.mean],
            "more_private_on_mean": ours.privacy.top1.mean < theirs.privacy.top1.mean,
            "more_useful_on_mean": ours.utility.test_accuracy.mean > theirs.utility.test_accuracy.mean,
            "seeds_more_private": sum(a < b for a, b in id_pairs),
            "seeds_more_useful": sum(a > b for a, b in face_pairs),
            "seeds": len(id_pairs)}
        matched = matched_utility(ours.utility.test_accuracy.mean, sweep_points(sweeps, baseline))
        if matched is not None:
            matched["more_private"] = ours.privacy.top1.mean < matched["id_top1"]
            # a margin inside the design's own spread over seeds is no verdict either way
            matched["design_std"] = ours.privacy.top1.std
            matched["within_spread"] = (abs(ours.privacy.top1.mean - matched["id_top1"])
                                        <= ours.privacy.top1.std)
        report[baseline]["matched_utility"] = matched
    parts = [report[b] for b in ("blur", "pixelate")]
    report["holds_on_means"] = all(p["more_private_on_mean"] and p["more_useful_on_mean"]
                                   for p in parts)
    report["holds_every_seed"] = all(p["seeds_more_private"] == p["seeds_more_useful"] == p["seeds"]
                                     for p in parts)
    config = by_key[design].row.key.split("_a")[0]
    sweep = sorted((item.row.alpha, item.result.privacy.top1.mean) for item in by_key.values()
                   if item.row.kind == "learned" and item.row.key.startswith(config + "_a"))
    report["alpha_id_top1"] = [[alpha, value] for alpha, value in sweep]
    report["alpha_monotone"] = (None if len(sweep) < 2 else
                                all(b[1] <= a[1] for a, b in zip(sweep, sweep[1:])))
    return report
