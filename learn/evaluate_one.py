"""One encoder through the whole protocol: identification, face vs no-face, LFW verification.

What ``canopic evaluate ENCODER --out DIR`` runs: the attack suite of ``learn.evaluation`` on the
30 evaluation identities of ``faces64_wide`` (Table 1's protocol, split seed 0), the detector on
faces vs no-faces, and the verification attack of ``learn.verification`` on role-T pairs, at
the quick or the full profile of ``learn.table1_rows`` and every seed asked for. The encoder is
named by a spec (:func:`encoder_from_spec`):

* ``clean``, ``blur:SIGMA_PX``, ``pixelate:BLOCK_PX`` -- the reference encoders;
* a published encoder's name (``Learned_...``; ``sensor.published_names()``);
* a design bundle folder (``design.json`` inside; what ``canopic train`` writes to OUT/design).

>>> summary = evaluate_one("pixelate:8", QUICK, seeds=(0,))        # doctest: +SKIP
>>> summary["identity_top1"]["mean"], summary["face_accuracy"]["mean"]  # doctest: +SKIP
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from learn.table1_rows import Profile

#: The reference encoders a spec may name, with the meaning of their number.
REFERENCE_SPECS = {"clean": None, "blur": "sigma in pixels", "pixelate": "block side in pixels"}


def encoder_from_spec(spec: str) -> "tuple[Callable, str]":
    """``(encoder(images, generator) -> outputs, description)`` for ``spec`` (module docstring).

    Raises ValueError naming the spec and the accepted forms for anything else.
    """
    from learn.table1_cameras import baseline_encoder, camera_encoder
    from sensor import load_published_camera
    from sensor.published import published_names

    forms = ("clean, blur:SIGMA_PX, pixelate:BLOCK_PX, a published encoder (" +
             ", ".join(published_names()) + ") or a design bundle folder (with design.json)")
    name, _, number = str(spec).partition(":")
    if name in REFERENCE_SPECS:
        if (REFERENCE_SPECS[name] is None) != (number == ""):
            raise ValueError(f"encoder {spec!r}: " + (f"'{name}' takes no number" if
                             REFERENCE_SPECS[name] is None else
                             f"'{name}' needs its {REFERENCE_SPECS[name]}, e.g. {name}:8"))
        if name == "clean":
            return baseline_encoder("clean", 0), "clean images"
        try:
            strength = float(number)
        except ValueError:
            strength = float("nan")
        if not strength > 0 or (name == "pixelate" and strength != int(strength)):
            raise ValueError(f"encoder {spec!r}: {number!r} is not a {REFERENCE_SPECS[name]} "
                             f"(need a positive {'integer' if name == 'pixelate' else 'number'})")
        strength = int(strength) if name == "pixelate" else strength
        return baseline_encoder(name, strength), f"{name} {strength:g} px"
    if spec in published_names():
        return camera_encoder(load_published_camera(spec)), f"published encoder {spec}"
    folder = Path(spec)
    if folder.is_dir() and (folder / "design.json").is_file():
        from sensor.design_bundle import load_design_bundle

        return camera_encoder(load_design_bundle(folder).make_camera()), f"design {folder}"
    if folder.is_dir():
        raise ValueError(f"encoder {spec!r}: the folder holds no design.json (a design bundle "
                         f"is what canopic train writes to OUT/design)")
    raise ValueError(f"encoder {spec!r}: not recognised; use {forms}")


def evaluate_one(spec: str, profile: Profile, seeds: Sequence[int] = (0, 1, 2),
                 device: str = "cpu", verification: bool = True, progress: bool = True,
                 splits=None) -> dict:
    """Evaluate the encoder ``spec`` at every seed; a JSON-ready summary.

    Parameters
    ----------
    spec : str
        :func:`encoder_from_spec`.
    profile : learn.table1_rows.Profile
        ``QUICK`` or ``FULL`` (budget, augmentation, verification settings).
    seeds : sequence of int
        Evaluation seeds (>= 3 for a report: the spread is over them).
    device : str
        Where the attackers train ("cpu", "cuda", ...).
    verification : bool
        Also run the profile's LFW verification attack (where the profile has one).
    progress : bool
        Progress bars.
    splits : learn.datasets.Splits, optional
        Default ``learn.datasets.default_splits(0)`` (Table 1's).

    Returns
    -------
    dict
        ``encoder``, ``description``, ``seeds``, ``identity_top1`` / ``face_accuracy`` /
        ``verification_accuracy`` / ``verification_auc`` (each ``{"mean", "std", "values"}`` in
        %, AUC in [0, 1]), the strongest attacks, every attack's identity top-1, and chance.
    """
    from learn import datasets
    from learn.attacks import ATTACK_NAMES
    from learn.evaluation import merge_seeds
    from learn.table1_run import _Evaluator

    encoder, description = encoder_from_spec(spec)
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds: {seeds} is not allowed; need at least one, all different")
    splits = datasets.default_splits(0) if splits is None else splits
    evaluator = _Evaluator(splits, profile, ATTACK_NAMES, device, progress=progress)
    result = merge_seeds([evaluator.evaluate(encoder, seed, str(spec), verify=verification)
                          for seed in seeds])

    def spread(value, scale: float = 100.0) -> dict:
        return {"mean": scale * value.mean, "std": scale * value.std,
                "values": [scale * v for v in value.values]}

    privacy = result.privacy
    summary = {
        "encoder": str(spec), "description": description, "seeds": seeds,
        "identity_top1": spread(privacy.top1), "strongest_attack": privacy.strongest,
        "identity_chance": 100.0 * privacy.chance_top1,
        "per_attack_top1": {name: spread(values["test_top1"])
                            for name, values in privacy.per_attack().items()},
        "face_accuracy": spread(result.utility.test_accuracy),
        "face_chance": 100.0 * result.utility.chance,
    }
    if result.verification is not None:
        summary.update(verification_accuracy=spread(result.verification.accuracy),
                       verification_auc=spread(result.verification.auc, 1.0),
                       verification_strongest=result.verification.strongest)
    return summary


def summary_markdown(summary: dict) -> str:
    """The summary of :func:`evaluate_one` as a short Markdown page."""
    def cell(value: dict, digits: int = 1) -> str:
        if len(value["values"]) < 2:  # no spread from one seed
            return f"{value['mean']:.{digits}f}"
        return f"{value['mean']:.{digits}f} +- {value['std']:.{digits}f}"

    seeds = summary["seeds"]
    lines = [f"# Evaluation of {summary['description']}", "",
             f"Seeds {seeds}; " + ("mean +- std over seeds." if len(seeds) > 1 else
                                   "one seed (n = 1): no spread; use --seeds 3 for a result."),
             "",
             "| measure | value | chance |", "| --- | --- | --- |",
             f"| identity top-1 %, strongest attack ({summary['strongest_attack']}) | "
             f"{cell(summary['identity_top1'])} | {summary['identity_chance']:.1f} |",
             f"| face vs no-face accuracy % | {cell(summary['face_accuracy'])} | "
             f"{summary['face_chance']:.1f} |"]
    if "verification_accuracy" in summary:
        lines += [f"| LFW verification accuracy %, strongest attack "
                  f"({summary['verification_strongest']}) | "
                  f"{cell(summary['verification_accuracy'])} | 50.0 |",
                  f"| LFW verification ROC AUC | {cell(summary['verification_auc'], 3)} | 0.500 |"]
    lines += ["", "| attack | identity top-1 % |", "| --- | --- |"]
    lines += [f"| {name} | {cell(value)} |" for name, value in summary["per_attack_top1"].items()]
    return "\n".join(lines) + "\n"


def write_evaluation(summary: dict, out, overwrite: bool = False) -> "list[Path]":
    """Write the folder ``out`` with ``evaluation.json`` and ``evaluation.md``, whole or not at
    all (``canopic.core.files.staged_folder``; an existing ``out`` is replaced only with
    ``overwrite``, nothing of it kept); returns the two paths."""
    from canopic.core.files import staged_folder

    with staged_folder(out, overwrite=overwrite) as staging:
        Path(staging, "evaluation.json").write_text(json.dumps(summary, indent=2) + "\n",
                                                    encoding="utf-8")
        Path(staging, "evaluation.md").write_text(summary_markdown(summary), encoding="utf-8")
    return [Path(out) / "evaluation.json", Path(out) / "evaluation.md"]


__all__ = ["REFERENCE_SPECS", "encoder_from_spec", "evaluate_one", "summary_markdown",
           "write_evaluation"]
