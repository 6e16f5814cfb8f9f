"""Issue 31's frontier study: do learned cameras beat the fixed ones? Validation split only.

Usage
-----
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --phase references --workers 2
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --phase learned \
        --methods paper,fresh,closed_form,constraint --alphas 50 --targets 0.9 --start-sigma 8 --workers 2
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --phase restarts \
        --restarts 3 --names "closed_form_hard_detector a200 t0.9 s8" --workers 2
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --phase heldout \
        --names "closed_form_hard_detector a500 t0.9 fpsf,gauss:16,blur:16" --workers 2
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study \
        --phase heldout --folds 5 --identities unseen --workers 2 \
        --names "closed_form_hard_detector a500 t0.9 fpsf,blur:12"
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --phase learned \
        --methods closed_form_hard_detector --alphas 200,500 --targets 0.9 --conv fpsf_physical
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study \
        --phase heldout --folds 5 --identities unseen --workers 2 \
        --names "closed_form_hard_detector a500 t0.9 fpsf twin,gauss:16 twin"
    .venv/bin/python benchmarks/learning_study.py --out docs/results/learning_study --report

Every point is one encoder at one seed, scored like an evaluation with ``read_test=False``
(``learn.evaluation.evaluate_encoder``): the attackers (``ATTACKS``: logistic regression and the
MLP, the strongest on 8x8 codes in docs/results/table1) and the face vs no-face detector are
trained on the evaluation identities' training part and scored on their VALIDATION part, with
the full profile's budget (``learn.table1.FULL``). The test parts are never read. A learned
camera is learned at the same seed (``learn.table1.learn_camera``, the full profile's schedule,
Conv(1) + MP + Quantize) from LFW role E's people (``learn.encoder_faces``), so no evaluation
person helps choose or learn a design.

Phases (each appends one JSON line per (encoder, seed) to ``OUT/records.jsonl`` as it
finishes; a rerun skips what is there):

* ``references``: the fixed frontiers: Gaussian blur (sigma swept), pixelation (block swept) and
  the unlearned Conv(1) + MP + Quantize family (Gaussian PSF, sigma swept: ``CameraConfig.psf_sigma``).
* ``learned``: every combination of ``--methods`` (``METHODS``), ``--alphas`` and ``--targets``
  (the face target of selection and of the constraint: the in-loop detector's validation
  accuracy, 0..1), started from the Conv(1) + MP + Q camera with Gaussian sigma
  ``--start-sigma`` (the best fixed design of the references, issue 31 item 5; or, with
  ``--conv conv4``, Conv(4) + MP + Q from its half-plane bars; with ``--conv cnn`` the free
  encoder of ``free_encoder.py``, a CNN where the optics would be, which asks whether the
  method is limited by the optics or by itself, and with ``--conv lcnn`` the same CNN without
  its ReLUs (a linear filter, what a PSF can do); their weights go to
  ``OUT/probes/<name>/seed<k>.pt``, not to design bundles; with ``--conv fpsf`` the Conv(1)
  camera whose PSF is learned through ``optics.factorised.FactorisedPSF``, a design; with
  ``--conv fpsf_physical`` the same learned in physical mode: two masks, K+ and K- captured
  through ``learn.table1.PHYSICAL_CAMERA``'s noise in the loop; ``--conv fpsf4`` /
  ``fpsf4_physical``: Conv(4) with four factorised PSFs of 31 px); ``--encoder-epochs`` lengthens
  the schedule, ``--detector-epochs`` trains the in-loop detector longer, ``--judge-people``
  gives selection's judge more people, ``--judge-folds`` scores it by cross-validation over
  the richest people's images, ``--alternations`` gives selection more candidates,
  ``--judge-detector-epochs`` reads selection's face accuracy from a longer-trained copy of the
  in-loop detector, ``--closed-form-shots`` fits the closed-form ridge on several images a
  person; ``--optics-lr``
  gives the PSF its own, scale-relative Adam step (without it the encoder's SGD erases the
  starting PSF within its first steps: docs/learning.md).
* ``restarts``: ``--restarts N`` - 1 new designs of each learned study name in ``--names`` for
  every evaluation seed s (learning seeds s + 3, s + 6, ...: :func:`learning_seed_of`), kept
  and scored like the ``learned`` phase (``OUT/restarts.jsonl``). The report then adds, per
  name, the design of each seed chosen among its N on validation (``"<name> rN f92"``: the
  rule of ``canopic train --restarts``, :func:`restart_choices`; selected on, so optimistic
  until ``--phase test``) and the restarts alone (``"<name> redrawn"``: new draws of the
  recipe that nothing chose, an estimate of what it gives free of the study's own choice),
  and ``OUT/restarts.png``.
* ``noise``: ``--names``' kept designs (or references) of every seed scored at every evaluation
  seed, validation only (``OUT/noise.jsonl``): how much of a recipe's spread over seeds is the
  evaluation's own noise (:func:`spread_parts`; a section of the report).
* ``heldout``: ``--names``' kept designs (each at its own seed) and references scored on
  validation images no model of the evaluation selected on (``learn.heldout``: the validation
  parts halved per person; each half scores the attackers and detector that chose their epoch
  and weight decay on the other; ``OUT/heldout.jsonl``). The plain validation score is the
  best epoch's, optimistic by an amount that differs between encoders; the report's "Held-out
  validation" section redraws the frontiers and the claim from these scores
  (``OUT/heldout_frontier.png``). It removes the attackers' selection only: the recipes
  themselves were chosen on these images (restart choices are refused for that reason).
  ``--folds k`` (k >= 3) cross-fits every training and validation image over k folds instead
  (``learn.heldout.crossfit_validation``: four times the scored images, k evaluations a score;
  ``OUT/crossfit<k>.jsonl``, its own report section and ``crossfit<k>_frontier.png``);
  ``--seeds`` takes fewer evaluation seeds. ``--identities unseen`` scores the face set's 32
  encoder identities instead (``learn.heldout.unseen_identity_data``: people no study design
  learned from and no choice was made on; ``OUT/crossfit<k>_unseen.jsonl``, the report's
  "Replicated on unseen identities" section): a replication on images nothing has seen.
  A name ``"<kept design> twin"`` or ``"gauss:S twin"`` (:data:`TWIN_SUFFIX`, any phase that
  scores names) scores that camera's physical twin (``learn.table1.physical_twin``: phase
  masks designed for its PSF, every noise of ``PHYSICAL_CAMERA``): what the design gives
  once built.
* ``test`` (once, after the choice is made on validation): ``--names`` (study names, e.g. a
  learned ``"closed_form a50 t0.9 s8"`` whose designs the ``learned`` phase kept in
  ``OUT/designs``, and ``gauss:12``) through the FULL protocol on the TEST parts: every attack of
  the suite (identification, strongest reported; the reconstruction attack's clean recognisers
  are trained once per seed into ``OUT/recognisers``, not a result), the face detector, and LFW
  verification of role-T people (``learn.verification``); one JSON line per (name, seed) in
  ``OUT/test.jsonl``. Blur and pixelation come from the full Table 1
  (docs/results/table1/full_table1.json, its sweeps) and docs/results/verification.

``--report`` writes ``OUT/learning_study.md``, ``OUT/psfs.png`` (the learned PSFs of seed 0)
and ``OUT/frontier.png``: every learned camera's (not the free-encoder probes') validation
identity accuracy (strongest attack, mean +- std over seeds) against its face accuracy, the
reference frontiers as lines, and the claim of issue 31 checked on validation (at each learned
point's face accuracy, below the blur, pixelation and Gaussian-camera frontiers, interpolated,
by at least max(4 points, 2 std over seeds) on the means, and by 4 points on every seed at its
own face accuracy; the random-PSF camera's margin is shown beside them).
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import re
import statistics
import time
from pathlib import Path

SEEDS = (0, 1, 2)
ATTACKS = ("logistic", "mlp")
#: a free encoder's attackers (:data:`FREE_ENCODERS`): also the suite's CNN and k-NN, since a
#: CNN in front of the camera may hide identity from linear and MLP attackers alone
PROBE_ATTACKS = ("logistic", "mlp", "inception", "knn")
BLUR_SIGMAS = (2.0, 4.0, 8.0, 10.0, 12.0, 14.0, 16.0, 24.0)
PIXELATE_BLOCKS = (2, 4, 8, 16, 32)
#: Smallest code side the attackers and the detector take (px); a coarser pixelation (32 px
#: blocks leave 2 x 2) is shown on this grid by nearest-neighbour repetition: same information.
MIN_CODE_SIDE = 4
PSF_SIGMAS = (1.0, 2.0, 4.0, 8.0, 10.0, 12.0, 14.0, 16.0, 24.0)
#: correlation lengths (px) of the random PSFs of the "noise" family (:func:`random_psf`)
NOISE_LENGTHS = (1.0, 2.0, 4.0, 8.0)
#: method -> ``AlternatingSettings`` fields (beside alpha and face_target)
METHODS = {
    "paper": dict(adversary="frozen", select="last"),
    "fresh": dict(adversary="fresh", select="validation"),
    "closed_form": dict(adversary="closed_form", select="validation"),
    "constraint": dict(adversary="closed_form", select="validation", utility="constraint"),
    "fresh_constraint": dict(adversary="fresh", select="validation", utility="constraint"),
    # D learns from hard codes (what selection and the evaluation score), not soft ones
    "closed_form_hard_detector": dict(adversary="closed_form", select="validation",
                                      network_input="hard"),
    "fresh_hard_detector": dict(adversary="fresh", select="validation", network_input="hard"),
}
CAMERA = dict(conv="conv1", maxpool=True, quantize=True)
#: named starts of a learned task (beside a Gaussian PSF's sigma) -> (row key, row label,
#: camera config): Conv(4) from its half-plane bars, Conv(1) with a factorised PSF (ideal
#: camera), the same learned in physical mode (K+ and K- captured through
#: ``learn.table1.PHYSICAL_CAMERA``'s noise in the loop, added by :func:`_encoder`), Conv(4)
#: with four factorised PSFs (fpsf4, ideal; fpsf4_physical)
NAMED_STARTS = {
    "conv4": ("conv4_mp_q_study", "Conv(4) + MP + Quantize", dict(CAMERA, conv="conv4")),
    "fpsf": ("fpsf_mp_q_study", "factorised Conv(1) + MP + Quantize",
             dict(CAMERA, psf_parameterisation="factorised")),
    "fpsf_physical": ("fpsf_mp_q_physical_study", "factorised Conv(1) + MP + Quantize, physical",
                      dict(CAMERA, psf_parameterisation="factorised", kernel_mode="two_mask")),
    "fpsf4": ("fpsf4_mp_q_study", "factorised Conv(4) + MP + Quantize",
              dict(CAMERA, conv="conv4", psf_parameterisation="factorised")),
    "fpsf4_physical": ("fpsf4_mp_q_physical_study", "factorised Conv(4) + MP + Quantize, physical",
                       dict(CAMERA, conv="conv4", psf_parameterisation="factorised",
                            kernel_mode="two_mask")),
}
#: suffix of a named start learned in physical mode (``learn.table1.PHYSICAL_CAMERA``)
PHYSICAL_START = "_physical"
#: suffix of a study name scored through its physical twin (``learn.table1.physical_twin``:
#: phase masks designed for the PSF, ``PHYSICAL_CAMERA``'s noise): ``"<kept design> twin"``,
#: ``"gauss:16 twin"``
TWIN_SUFFIX = " twin"
#: starts that learn ``free_encoder.FreeEncoder`` (a probe; lcnn: without its ReLUs) instead
#: of a camera
FREE_ENCODERS = ("cnn", "lcnn")
#: the fixed designs a name ``KIND:STRENGTH`` can stand for (:func:`_reference_encoder`)
REFERENCE_KINDS = ("gauss", "noise", "blur", "pixelate")
#: optional fields of a learned task after its start, in order: (``AlternatingSettings`` field
#: and ``--flag``, prefix in the task's name, type, help); None = the full profile's value
EXTRAS = (
    ("optics_lr", "o", float, "the PSF's own Adam step, per step a fraction of the starting "
                              "PSF's peak tap (default: the encoder's SGD)"),
    ("encoder_epochs", "e", int, "encoder epochs per alternation (default: the full profile's 2)"),
    ("detector_epochs", "d", int, "in-loop detector epochs per alternation (default: the full "
                                  "profile's 2)"),
    ("judge_people", "j", int, "encoder people taken out of the loop to judge selection "
                               "(default: AlternatingSettings' 100)"),
    ("judge_folds", "k", int, "k >= 2: selection's judge takes the people with the most images "
                              "and cross-validates over k folds (default: one held-out image "
                              "a person)"),
    ("alternations", "n", int, "alternations (default: the full profile's 6); selection sees "
                               "one candidate design per alternation"),
    ("judge_detector_epochs", "jd", int, "selection's face accuracy from a copy of the in-loop "
                                         "detector trained this many more epochs on hard codes "
                                         "(default: the in-loop detector's own)"),
    ("closed_form_shots", "sh", int, "fit images a person of the closed-form ridge (default: 1, "
                                     "one-shot)"),
)


def task_name(task: tuple) -> str:
    """A task's name in the records: ``blur:8``, ``pixelate:4``, ``gauss:8``, or
    ``closed_form a50 t0.94 s8`` (method, alpha, target, start sigma), ``... conv4`` for the
    Conv(4) camera from its half-plane bars, ``... cnn`` / ``... lcnn`` for the free encoder
    with / without its ReLUs, ``... fpsf`` for Conv(1) with a factorised PSF (``...
    fpsf_physical``: learned in physical mode; ``... fpsf4``: Conv(4), four factorised PSFs),
    ``... o0.003`` where the PSF learns with its own step (``AlternatingSettings.optics_lr``), ``... e4`` / ``... d6`` with 4 encoder / 6 detector
    epochs per alternation, ``... j50 k5`` with a judge of 50 people cross-validated over 5
    folds, ``... n10`` with 10 alternations, ``... jd10`` with a detector judge trained 10
    more epochs, ``... sh3`` with a closed-form ridge fitted on 3 images a person."""
    if task[0] == "ref":
        return f"{task[1]}:{task[2]:g}"
    _, method, alpha, target, start = task[:5]
    extras = "".join(f" {prefix}{value:g}" for (_, prefix, *_), value in zip(EXTRAS, task[5:])
                     if value is not None)
    start = start if isinstance(start, str) else f"s{start:g}"
    return f"{method} a{alpha:g} t{target:g} {start}{extras}"


def _state():
    """A worker's state: the evaluation data and the splits with LFW role E's encoder faces."""
    import torch

    from learn import datasets
    from learn.encoder_faces import with_encoder_faces
    from learn.evaluation import data_from_splits

    torch.set_num_threads(1)
    splits = datasets.default_splits(0)
    return data_from_splits(splits), with_encoder_faces(splits, "lfw-e", seed=0)


def design_folder(out: Path, name: str, seed: int) -> Path:
    """Where a learned design of the study is kept: ``OUT/designs/<name>/seed<k>`` (a design
    bundle, ``sensor.design_bundle``)."""
    return Path(out) / "designs" / name.replace(" ", "_") / f"seed{seed}"


def random_psf(length: float, seed: int, size: int = 63):
    """A random signed PSF [1, size, size]: white Gaussian noise (seeded) smoothed by a Gaussian
    of sigma ``length`` px (FFT, circular), zero mean, unit peak |tap|. The learned PSFs of the
    study look like such fields (psfs.png); the "noise" family asks whether an unlearned one is
    as private."""
    import torch

    from optics.kernels import gaussian_psf

    generator = torch.Generator().manual_seed(10_007 + int(seed))
    noise = torch.randn(size, size, generator=generator, dtype=torch.float64)
    kernel = torch.fft.ifftshift(gaussian_psf(size, float(length)).double())
    field = torch.fft.irfft2(torch.fft.rfft2(noise) * torch.fft.rfft2(kernel), s=(size, size))
    field = field - field.mean()
    return (field / field.abs().max()).float()[None]


def _reference_encoder(kind: str, strength: float, seed: int):
    """A fixed design's encoder: ``gauss`` (unlearned Conv(1)+MP+Q, PSF sigma ``strength`` px),
    ``noise`` (unlearned Conv(1)+MP+Q with :func:`random_psf` of correlation length
    ``strength`` px, one draw per seed), ``blur`` (sigma px) or ``pixelate`` (block px)."""
    from learn.table1_cameras import camera_encoder, reference_encoder
    from optics.kernels import KernelPSF
    from sensor import Camera, CameraConfig

    if kind not in REFERENCE_KINDS:
        raise ValueError(f"reference: {kind!r} is not allowed; choose one of {REFERENCE_KINDS}")
    if kind == "noise":
        config = CameraConfig(**dict(CAMERA, conv="custom"), seed=seed)
        return camera_encoder(Camera(config, psf_source=KernelPSF(random_psf(strength, seed))))
    # the product's fixed designs; "gauss" is this study's name of the Gaussian camera
    encoder = reference_encoder("gaussian_camera" if kind == "gauss" else kind, strength, seed)
    return _coarse_pixelation(encoder) if kind == "pixelate" else encoder


def _coarse_pixelation(encoder):
    """``encoder`` (a pixelation) with codes smaller than :data:`MIN_CODE_SIDE` repeated
    (nearest neighbour) up to that side; larger codes pass unchanged."""
    from torch.nn import functional as F

    def encode(images, generator):
        codes = encoder(images, generator)
        side = min(codes.shape[-2:])
        if side >= MIN_CODE_SIDE:
            return codes
        return F.interpolate(codes, scale_factor=-(-MIN_CODE_SIDE // side), mode="nearest")

    return encode


def _encoder(state, task: tuple, seed: int, out: "Path | None" = None) -> "tuple":
    """(encoder, learning log) of ``task`` learned at ``seed``; a learned design is saved under
    ``out``."""
    from learn import table1
    from learn.table1_cameras import camera_encoder
    from learn.table1_rows import Row

    _, splits = state
    if task[0] == "ref":
        return _reference_encoder(task[1], task[2], seed), []
    _, method, alpha, target, start = task[:5]
    camera = None
    if start in NAMED_STARTS:
        from learn.table1_rows import PHYSICAL_CAMERA

        key, label, config = NAMED_STARTS[start]
        physical = PHYSICAL_CAMERA if start.endswith(PHYSICAL_START) else {}
        row = Row(key, label, "learned", {**config, **physical}, float(alpha))
    elif start in FREE_ENCODERS:
        from free_encoder import FreeEncoder

        row = Row("free_cnn_study", "free CNN + MP + Quantize", "learned",
                  dict(CAMERA, conv="none"), float(alpha))
        camera = FreeEncoder(seed=seed, linear=start == "lcnn")
    else:
        row = Row("conv1_mp_q_study", "Conv(1) + MP + Quantize", "learned",
                  dict(CAMERA, psf_sigma=float(start)), float(alpha))
    settings = {**table1.FULL.alternating, **METHODS[method], "face_target": float(target)}
    for (field, _, kind, _), value in zip(EXTRAS, task[5:]):
        if value is not None:
            settings[field] = kind(value)
    log: list = []
    camera = table1.learn_camera(row, splits, settings, seed=seed, log=log, progress=False,
                                 camera=camera)
    if out is not None and start in FREE_ENCODERS:  # a probe, not a design: no bundle
        import torch

        probe = Path(out) / "probes" / task_name(task).replace(" ", "_") / f"seed{seed}.pt"
        probe.parent.mkdir(parents=True, exist_ok=True)
        torch.save(camera.state_dict(), probe)
    elif out is not None:
        from sensor.design_bundle import save_design_bundle

        save_design_bundle(camera, design_folder(out, task_name(task), seed), float(alpha), seed,
                           extra={"method": method, "settings": settings})
    return camera_encoder(camera), log


def validation_percent(encoder, data, seed: int, attacks=ATTACKS) -> "tuple[dict, float]":
    """(attack -> validation top-1 %, face %) of ``encoder`` at evaluation seed ``seed``:
    ``learn.restarts.score_on_validation`` with ``attacks`` and the full budget."""
    from learn.restarts import score_on_validation

    scores = score_on_validation(encoder, data, seed, attacks=attacks)
    return {a: 100 * v for a, v in scores["val_top1"].items()}, 100 * scores["face"]


def run_one(state, task: tuple, seed: int, out: "Path | None" = None,
            learning_seed: "int | None" = None) -> dict:
    """Learn (if it learns, at ``learning_seed``, default ``seed``; the design is kept under
    ``out``) and score ``task`` at evaluation seed ``seed`` on validation data."""
    data, _ = state
    start = time.process_time()
    learning_seed = seed if learning_seed is None else int(learning_seed)
    encoder, log = _encoder(state, task, learning_seed, out)
    learn_s = time.process_time() - start
    probe = task[0] == "learn" and task[4] in FREE_ENCODERS
    val, face = validation_percent(encoder, data, seed, PROBE_ATTACKS if probe else ATTACKS)
    keep = ("alternation", "select_identity_acc", "select_face_acc", "selected_alternation",
            "detector_val_acc_hard", "utility_multiplier", "thresholds")
    return {"name": task_name(task), "task": list(task), "seed": seed,
            **({} if learning_seed == seed else {"learning_seed": learning_seed}),
            "val_top1": {a: round(v, 2) for a, v in val.items()},
            "identity": round(max(val.values()), 2), "face": round(face, 2),
            "learn_s": round(learn_s, 1), "process_s": round(time.process_time() - start, 1),
            "log": [{k: m[k] for k in keep if k in m} for m in log]}


def _work(state, job: tuple) -> dict:
    task, seed, out, *learning_seed = job
    return run_one(state, tuple(task), seed, Path(out), *learning_seed)


# ----------------------------------------------------------------------------- restarts
def learning_seed_of(seed: int, restart: int) -> int:
    """The learning seed of ``restart`` (0, 1, ...) for evaluation seed ``seed``: restart 0 is
    the study's own design (learned at ``seed``), restart r at ``seed + r * len(SEEDS)``, so the
    pools of different evaluation seeds never share a design."""
    return int(seed) + int(restart) * len(SEEDS)


def load_restarts(out: Path) -> "list[dict]":
    return _read_records(out / "restarts.jsonl")


def restarts_run(out: Path, names: "list[str]", restarts: int, spec) -> None:
    """Learn restarts 1 .. ``restarts`` - 1 of every learned study name in ``names`` for every
    evaluation seed (:func:`learning_seed_of`), keep each design and score it on validation at
    that evaluation seed, one JSON line each in ``OUT/restarts.jsonl``; :func:`restart_choices`
    then picks one design per evaluation seed (validation-gated selection, issue 31 item 4)."""
    if not (isinstance(restarts, int) and restarts >= 2):
        raise ValueError(f"--restarts: {restarts!r} is not allowed; need an integer >= 2")
    tasks = {r["name"]: tuple(r["task"]) for r in load(out) if r["task"][0] == "learn"}
    unknown = [name for name in names if name not in tasks]
    if unknown or not names:
        raise ValueError(f"--names: {unknown or names} are not learned study names (run --phase "
                         f"learned first); known: {sorted(tasks)}")
    done = {(r["name"], r["learning_seed"]) for r in load_restarts(out)}
    todo = [(tasks[name], seed, learning_seed_of(seed, r)) for r in range(1, restarts)
            for name in names for seed in SEEDS
            if (name, learning_seed_of(seed, r)) not in done]
    _run_pending(out / "restarts.jsonl", [(t, s, str(out), ls) for t, s, ls in todo],
                 [f"{task_name(t)} seed {s} learning seed {ls}" for t, s, ls in todo], spec,
                 (_state, ()), _work)


#: validation face targets (%) of the restart choice (:func:`restart_choices`), one report row each
RESTART_FACE_TARGETS = (92.0, 94.0)
_RESTART_NAME = re.compile(r"^(?P<base>.+) r(?P<restarts>\d+) f(?P<face>[0-9.]+)$")


def restart_name(base: str, restarts: int, face_target: float) -> str:
    """``"<base> r3 f94"``: the best of 3 restarts of ``base`` at validation face target 94 %."""
    return f"{base} r{restarts} f{face_target:g}"


def restart_choices(records: "list[dict]", restart_records: "list[dict]",
                    face_targets=RESTART_FACE_TARGETS, counts=None) -> "dict[str, list[dict]]":
    """Validation-gated choice among restarts (issue 31 item 4), per evaluation seed.

    For every learned name with restarts, the candidates of evaluation seed s are its study
    record (restart 0) and its ``restart_records`` at s; for each ``n`` of ``counts`` (default:
    the number of restarts every seed has; counts above it are skipped) the first ``n`` (by
    learning seed) of each seed compete, and
    ``learn.restarts.choose_restart`` (what ``canopic train --restarts`` keeps) takes the most
    private one whose validation face accuracy meets the target, else the most useful one.
    Returns ``restart_name(base, n, target)`` -> the chosen records, one per seed (``name``,
    ``task`` marked ``"<method> best of n"``, ``candidates``: every candidate's learning seed,
    identity and face). The chosen validation scores are selected on: optimistic; only a test
    run measures the choice.
    """
    from learn.restarts import choose_restart

    pools: "dict[tuple[str, int], list[dict]]" = {}
    bases = {r["name"] for r in restart_records}
    for record in records:
        if record["name"] in bases:
            pools.setdefault((record["name"], record["seed"]), []).append(
                {**record, "learning_seed": record["seed"]})
    for record in restart_records:
        pools.setdefault((record["name"], record["seed"]), []).append(record)
    choices = {}
    for base in sorted(bases):
        seeds = {seed: sorted(pool, key=lambda r: r["learning_seed"])
                 for (name, seed), pool in pools.items() if name == base}
        if sorted(seeds) != sorted(SEEDS):
            continue
        available = min(len(pool) for pool in seeds.values())
        for count, target in itertools.product(counts or (available,), face_targets):
            if not 2 <= count <= available:
                continue
            name = restart_name(base, count, target)
            chosen = []
            for seed in SEEDS:
                pool = seeds[seed][:count]
                index = choose_restart([{"identity": r["identity"] / 100, "face": r["face"] / 100}
                                        for r in pool], target / 100)
                task = list(pool[0]["task"])
                task[1] = f"{task[1]} best of {count}"
                chosen.append({**pool[index], "name": name, "task": task,
                               "candidates": [[r["learning_seed"], r["identity"], r["face"]]
                                              for r in pool]})
            choices[name] = chosen
    return choices


def redrawn(restart_records: "list[dict]") -> "dict[str, list[dict]]":
    """``"<base> redrawn"`` -> every restart design of ``base`` (learning seeds 3, 4, ...), each
    scored at its evaluation seed: new draws of the recipe that no choice saw, so their mean
    estimates what the recipe gives, free of the luck of being the study's best of many
    recipes on the same three seeds."""
    groups: "dict[str, list[dict]]" = {}
    for record in restart_records:
        task = list(record["task"])
        task[1] = f"{task[1]} redrawn"
        name = f"{record['name']} redrawn"
        groups.setdefault(name, []).append({**record, "name": name, "task": task})
    return groups


# ----------------------------------------------------------------------------- the test run
def _test_state(out: str):
    """A test worker's state: evaluation data, LFW verification data per seed (lazily) and the
    clean recognisers of the reconstruction attack (``OUT/recognisers``)."""
    import torch

    from learn import datasets
    from learn.evaluation import data_from_splits
    from learn.recogniser_store import RecogniserStore
    from learn.table1_rows import FULL

    torch.set_num_threads(1)
    budget = FULL.budget
    return (data_from_splits(datasets.default_splits(0)),
            RecogniserStore(Path(out) / "recognisers", f"learning-study {budget.cnn_epochs} "
                            f"{budget.cnn_width} {budget.patience} {FULL.n_augment}"))


def chosen_design(out: Path, name: str, seed: int) -> "tuple[str, int]":
    """(study name, learning seed) of the design ``name`` stands for at evaluation seed ``seed``:
    itself, or for a restart choice ``"<base> rN fF"`` the restart :func:`restart_choices`
    picked (ValueError when that choice cannot be made from the records)."""
    match = _RESTART_NAME.match(name)
    if not match:
        return name, seed
    chosen = restart_choices(load(out), load_restarts(out), (float(match["face"]),),
                             (int(match["restarts"]),)).get(name)
    if chosen is None:
        raise ValueError(f"--names: {name!r}: no such restart choice (run --phase restarts "
                         f"--restarts {match['restarts']} --names {match['base']!r} first)")
    return match["base"], chosen[SEEDS.index(seed)]["learning_seed"]


def _test_encoder(out: Path, name: str, seed: int):
    """The encoder of study name ``name`` at ``seed``: a kept learned design or a reference, or
    either's physical twin (``"<name> twin"``, :data:`TWIN_SUFFIX`)."""
    from learn.table1_cameras import camera_encoder
    from sensor.design_bundle import load_design_bundle

    if name.endswith(TWIN_SUFFIX):
        from learn.table1_cameras import physical_twin

        return camera_encoder(physical_twin(_twin_camera(out, name[:-len(TWIN_SUFFIX)], seed)))
    name, seed = chosen_design(out, name, seed)
    folder = design_folder(out, name, seed)
    if folder.is_dir():
        return camera_encoder(load_design_bundle(folder).make_camera())
    kind, _, strength = name.partition(":")
    if kind not in REFERENCE_KINDS or not strength:
        raise ValueError(f"--names: {name!r} is neither a kept design under {out / 'designs'} "
                         f"(run --phase learned first) nor KIND:STRENGTH, KIND one of "
                         f"{REFERENCE_KINDS}")
    return _reference_encoder(kind, float(strength), seed)


def _twin_camera(out: Path, name: str, seed: int):
    """The camera whose physical twin ``"<name> twin"`` scores: a kept design's (as learned,
    its own noise included) or the Gaussian camera ``gauss:S`` at ``seed``."""
    from learn.table1_cameras import gaussian_camera
    from sensor.design_bundle import load_design_bundle

    kind, _, strength = name.partition(":")
    if kind == "gauss" and strength:
        return gaussian_camera(float(strength), seed)
    design, design_seed = chosen_design(out, name, seed)
    folder = design_folder(out, design, design_seed)
    if not folder.is_dir():
        raise ValueError(f"--names: {name + TWIN_SUFFIX!r}: a physical twin needs a kept design "
                         f"under {out / 'designs'} or gauss:S; {name!r} is neither")
    return load_design_bundle(folder).make_camera()


def test_one(state, out: Path, name: str, seed: int) -> dict:
    """The full protocol on the test parts for ``name`` at ``seed`` (module docstring)."""
    from learn.evaluation import evaluate_encoder
    from learn.table1_rows import FULL
    from learn.verification import evaluate_verification, verification_data

    data, recognisers = state
    start = time.process_time()
    encoder = _test_encoder(out, name, seed)
    result = evaluate_encoder(encoder, data, seeds=(seed,), budget=FULL.budget,
                              n_augment=FULL.n_augment, recognisers=recognisers, progress=False)
    verification = evaluate_verification(encoder, verification_data(seed=seed), seeds=(seed,),
                                         attacks=FULL.verification["attacks"],
                                         budget=FULL.budget, progress=False)
    top1 = {score.attack: 100 * score.test_top1 for score in result.privacy.scores}
    ver = {score.attack: (100 * score.test_accuracy, score.test_auc)
           for score in verification.scores}
    strongest = max(ver, key=lambda attack: ver[attack][0])
    return {"name": name, "seed": seed, "test_top1": {a: round(v, 2) for a, v in top1.items()},
            "identity": round(max(top1.values()), 2),
            "face": round(100 * result.utility.test_accuracy.mean, 2),
            "verification": round(ver[strongest][0], 2), "auc": round(ver[strongest][1], 4),
            "verification_attack": strongest, "process_s": round(time.process_time() - start, 1)}


def _test_work(state, job: tuple):
    if job[0] == "warm":
        import suite_strength

        return suite_strength.warm_recogniser(state, job[1])
    return test_one(state, Path(job[0]), job[1], job[2])


def load_test(out: Path) -> "list[dict]":
    return _read_records(out / "test.jsonl")


def test_run(out: Path, names: "list[str]", spec) -> None:
    """Run the (name, seed) pairs not yet in ``OUT/test.jsonl``, the clean recognisers first."""
    done = {(r["name"], r["seed"]) for r in load_test(out)}
    todo = [(name, seed) for seed in SEEDS for name in names if (name, seed) not in done]
    for name, seed in todo:
        _test_encoder(out, name, seed)  # every name resolves before anything runs
    _run_pending(out / "test.jsonl", [(str(out), n, s) for n, s in todo],
                 [f"{n} seed {s}" for n, s in todo], spec, (_test_state, (str(out),)),
                 _test_work, warm=[("warm", seed) for seed in SEEDS] if todo else [])


# ----------------------------------------------------------------------------- evaluation noise
def _data_state():
    """A noise or held-out worker's state: the evaluation data (validation parts only are
    scored)."""
    import torch

    from learn import datasets
    from learn.evaluation import data_from_splits

    torch.set_num_threads(1)
    return data_from_splits(datasets.default_splits(0))


def _unseen_state():
    """A held-out worker's state for ``--identities unseen``: the face set's 32 encoder
    identities, which no study design learned from or was chosen on
    (``learn.heldout.unseen_identity_data``)."""
    import torch

    from learn import datasets
    from learn.heldout import unseen_identity_data

    torch.set_num_threads(1)
    return unseen_identity_data(datasets.default_splits(0))


#: ``--identities``: who the held-out phase scores, and the worker state that loads them.
IDENTITIES = {"evaluation": _data_state, "unseen": _unseen_state}


def noise_one(data, out: Path, name: str, design_seed: int, seed: int) -> dict:
    """Study name ``name``'s design of ``design_seed`` (a kept learned design, or a reference made
    at that seed) scored like :func:`run_one` at evaluation seed ``seed``: validation only."""
    start = time.process_time()
    val, face = validation_percent(_test_encoder(out, name, design_seed), data, seed)
    return {"name": name, "design_seed": design_seed, "seed": seed,
            "val_top1": {a: round(v, 2) for a, v in val.items()},
            "identity": round(max(val.values()), 2), "face": round(face, 2),
            "process_s": round(time.process_time() - start, 1)}


def _noise_work(data, job: tuple) -> dict:
    return noise_one(data, Path(job[0]), job[1], job[2], job[3])


def load_noise(out: Path) -> "list[dict]":
    return _read_records(out / "noise.jsonl")


def noise_run(out: Path, names: "list[str]", spec) -> None:
    """Every design seed of ``names`` at every evaluation seed (``OUT/noise.jsonl``): how much of
    a recipe's spread over seeds is the evaluation's own noise (:func:`spread_parts`)."""
    done = {(r["name"], r["design_seed"], r["seed"]) for r in load_noise(out)}
    todo = [(name, d, e) for name in names for d in SEEDS for e in SEEDS
            if (name, d, e) not in done]
    for name, design_seed, _ in todo:
        _test_encoder(out, name, design_seed)  # every name resolves before anything runs
    _run_pending(out / "noise.jsonl", [(str(out), n, d, e) for n, d, e in todo],
                 [f"{n} design {d} seed {e}" for n, d, e in todo], spec, (_data_state, ()),
                 _noise_work)


def spread_parts(table: "list[list[float]]") -> "tuple[float, float]":
    """(evaluation noise, design spread) of ``table[design][evaluation seed]`` (equal row
    lengths >= 2): the pooled standard deviation within rows, and the standard deviation of the
    row means less what that noise alone gives them (one-way random effects:
    ``sqrt(max(0, var(row means) - within^2 / k))``, k the row length)."""
    k = len(table[0])
    within = math.sqrt(statistics.fmean(statistics.variance(row) for row in table))
    means = [statistics.fmean(row) for row in table]
    between = math.sqrt(max(0.0, statistics.variance(means) - within ** 2 / k))
    return within, between


def _noise_section(out: Path, records: "list[dict]") -> str:
    """The evaluation-noise table (empty until ``--phase noise`` has run)."""
    rows = load_noise(out)
    if not rows:
        return ""
    study = {(r["name"], r["seed"]): r["identity"] for r in records}
    lines = ["\n## Evaluation noise against the spread of learning\n",
             "Every design seed of a name scored at every evaluation seed (validation, strongest "
             "of " + ", ".join(ATTACKS) + "; `--phase noise`). Evaluation noise: the pooled "
             "std over evaluation seeds of one design; design spread: the std of the designs' "
             "means less that noise's share (one-way random effects). Same seed twice: "
             "whether the matching rows reproduce the study's records.\n",
             "| name | identity % [design seed: evaluation seeds " + ", ".join(map(str, SEEDS)) +
             "] | evaluation noise (points) | design spread (points) | same seed twice |",
             "| --- | --- | --- | --- | --- |"]
    for name in sorted({r["name"] for r in rows}):
        cells = {(r["design_seed"], r["seed"]): r["identity"] for r in rows if r["name"] == name}
        if len(cells) < len(SEEDS) ** 2:
            continue
        table = [[cells[d, e] for e in SEEDS] for d in SEEDS]
        within, between = spread_parts(table)
        text = "; ".join(f"{d}: " + " / ".join(f"{v:.1f}" for v in row)
                         for d, row in zip(SEEDS, table))
        same = (None if name.endswith(TWIN_SUFFIX)  # a twin is not in the study's records
                else all(study.get((name, d)) == cells[d, d] for d in SEEDS))
        lines.append(f"| {name} | {text} | {within:.1f} | {between:.1f} | "
                     f"{'-' if same is None else 'yes' if same else 'no'} |")
    return "\n".join(lines) + "\n"


def _restarts_section(choices: "dict[str, list[dict]]") -> str:
    """The restart choices: every candidate of every seed and the one taken (empty without
    ``--phase restarts``)."""
    if not choices:
        return ""
    lines = ["\n## Restarts chosen on validation\n",
             "`--phase restarts`: each evaluation seed's design is the most private of n restarts "
             "(learning seeds s, s + 3, ...) whose validation face accuracy meets the target "
             "(`f92`: 92 %), else the most useful (`learn.restarts.choose_restart`, as `canopic train --restarts`). Rows `... rN fF` "
             "above are those choices: their validation scores are selected on, so they are "
             "optimistic; only `--phase test` measures them. restarts.png: every design "
             "against the frontiers. Rows `... redrawn` above are "
             "the restarts alone (learning seeds 3 and up, each scored at its evaluation "
             "seed; its seeds column counts designs): new draws of the recipe, chosen by "
             "nothing.\n",
             "| name | seed: candidates (learning seed: identity % / face %), chosen in bold |",
             "| --- | --- |"]
    for name, chosen in choices.items():
        cells = []
        for record in chosen:
            options = [(f"**{ls}: {i:.1f} / {f:.1f}**" if ls == record["learning_seed"]
                        else f"{ls}: {i:.1f} / {f:.1f}") for ls, i, f in record["candidates"]]
            cells.append(f"{record['seed']}: " + ", ".join(options))
        lines.append(f"| {name} | " + "; ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _read_records(path: Path) -> "list[dict]":
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_pending(path: Path, jobs: list, names: "list[str]", spec, state: tuple, work,
                 warm: list = ()) -> None:
    """Run ``jobs`` on the engine ``spec`` (worker state ``state = (function, args)``, then
    ``work(state, job)``), ``warm`` jobs first (their results dropped); append each result to
    ``path`` as one JSON line as it finishes and print it."""
    print(f"{len(jobs)} tasks to run", flush=True)

    def finished(index: int, record: dict) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        extra = (f" verification {record['verification']:.1f} %" if "verification" in record
                 else "")
        print(f"{record['name']} seed {record['seed']}: identity {record['identity']:.1f} % "
              f"face {record['face']:.1f} %{extra} ({record['process_s']:.0f} s)", flush=True)

    engine = spec.make(state[0], state[1], threads=1)
    try:
        if warm:
            engine.run(list(warm), work, lambda index, result: None,
                       names=[" ".join(map(str, job)) for job in warm])
        engine.run(jobs, work, finished, names=names)
    finally:
        engine.close()


def plan(phase: str, args) -> "list[tuple]":
    """The tasks of ``phase`` (module docstring)."""
    if phase == "references":
        return ([("ref", "gauss", s) for s in PSF_SIGMAS] + [("ref", "noise", s) for s in NOISE_LENGTHS]
                + [("ref", "blur", s) for s in BLUR_SIGMAS]
                + [("ref", "pixelate", b) for b in PIXELATE_BLOCKS])
    if phase == "learned":
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            raise ValueError(f"--methods: {unknown} are not allowed; choose from {sorted(METHODS)}")
        extras = [getattr(args, field) for field, *_ in EXTRAS]
        while extras and extras[-1] is None:
            extras.pop()
        start = args.conv if args.conv in (*NAMED_STARTS, *FREE_ENCODERS) else args.start_sigma
        return [("learn", m, a, t, start, *extras) for m in methods
                for a in _numbers(args.alphas) for t in _numbers(args.targets)]
    raise ValueError(f"--phase: {phase!r} is not allowed; choose references or learned")


def _seed_list(text: str) -> "list[int]":
    """``--seeds``: distinct evaluation seeds of :data:`SEEDS`, comma-separated."""
    try:
        seeds = [int(item) for item in text.split(",") if item.strip()]
    except ValueError:
        raise ValueError(f"--seeds: {text!r} is not a comma-separated list of integers") from None
    if not seeds or len(set(seeds)) != len(seeds) or not set(seeds) <= set(SEEDS):
        raise ValueError(f"--seeds: {text!r} is not allowed; need distinct seeds of {SEEDS}")
    return seeds


def _numbers(text: str) -> "list[float]":
    return [float(item) for item in text.split(",") if item.strip()]


def load(out: Path) -> "list[dict]":
    return _read_records(out / "records.jsonl")


def study(out: Path, tasks: "list[tuple]", spec) -> None:
    """Run the (task, seed) pairs not yet in ``OUT/records.jsonl`` on the engine ``spec``."""
    out.mkdir(parents=True, exist_ok=True)
    done = {(r["name"], r["seed"]) for r in load(out)}
    todo = [(task, seed) for seed in SEEDS for task in tasks if (task_name(task), seed) not in done]
    _run_pending(out / "records.jsonl", [(t, s, str(out)) for t, s in todo],
                 [f"{task_name(t)} seed {s}" for t, s in todo], spec, (_state, ()), _work)


# ----------------------------------------------------------------------------- held-out validation
def _task_of(out: Path, name: str) -> list:
    """The task list of study name ``name`` (a reference ``KIND:STRENGTH``, a learned name of
    ``OUT/records.jsonl`` or a restart choice), as the report sorts and groups by it. A
    physical twin (:data:`TWIN_SUFFIX`) of a learned design is a learned task whose start says
    ``twin`` (for the report's groups: ``task_name`` of it need not give the twin's name back,
    records keep their name); of a reference, ``["twin", kind, strength]`` (no family's
    frontier)."""
    if name.endswith(TWIN_SUFFIX):
        task = list(_task_of(out, name[:-len(TWIN_SUFFIX)]))
        if task[0] == "ref":
            return ["twin", *task[1:]]
        start = task[4] if isinstance(task[4], str) else f"s{task[4]:g}"
        return [*task[:4], start + TWIN_SUFFIX, *task[5:]]
    kind, _, strength = name.partition(":")
    if kind in REFERENCE_KINDS and strength:
        return ["ref", kind, float(strength)]
    for record in load(out):
        if record["name"] == name:
            return record["task"]
    match = _RESTART_NAME.match(name)
    if match:
        choice = restart_choices(load(out), load_restarts(out), (float(match["face"]),),
                                 (int(match["restarts"]),)).get(name)
        if choice:
            return choice[0]["task"]
    raise ValueError(f"--names: {name!r} is neither KIND:STRENGTH ({REFERENCE_KINDS}) nor a "
                     f"study name of {out / 'records.jsonl'} or a restart choice")


def heldout_one(data, out: Path, name: str, seed: int, folds: int = 2,
                identities: str = "evaluation") -> dict:
    """Study name ``name``'s design (or reference) at ``seed`` scored on held-out images
    (:data:`ATTACKS`): ``folds`` = 2, the validation images halved
    (``learn.heldout.heldout_validation``); ``folds`` >= 3, every training and validation image
    cross-fitted over that many folds (``learn.heldout.crossfit_validation``). No model of the
    evaluation selected on the images that score it. Also kept: the same folds'
    selection-biased scores. ``identities`` names whose images ``data`` holds (recorded)."""
    from learn.heldout import crossfit_validation, heldout_validation

    start = time.process_time()
    encoder = _test_encoder(out, name, seed)
    scores = (heldout_validation(encoder, data, seed, attacks=ATTACKS) if folds == 2 else
              crossfit_validation(encoder, data, seed, k=folds, attacks=ATTACKS))

    def percent(values: dict) -> dict:
        return {attack: round(100 * value, 2) for attack, value in values.items()}

    return {"name": name, "task": _task_of(out, name), "seed": seed, "folds": folds,
            "identities": identities,
            "val_top1": percent(scores["val_top1"]), "identity": round(100 * scores["identity"], 2),
            "face": round(100 * scores["face"], 2),
            "selected_top1": percent(scores["selected_top1"]),
            "selected_face": round(100 * scores["selected_face"], 2),
            "process_s": round(time.process_time() - start, 1)}


def _heldout_work(data, job: tuple) -> dict:
    return heldout_one(data, Path(job[0]), job[1], job[2], job[3], job[4])


def heldout_path(out: Path, folds: int = 2, identities: str = "evaluation") -> Path:
    """``OUT/heldout.jsonl`` (halved validation) or ``OUT/crossfit<k>.jsonl`` (k folds) of the
    evaluation identities; ``..._unseen.jsonl`` of the unseen ones (``--identities unseen``)."""
    stem = "heldout" if folds == 2 else f"crossfit{folds}"
    return Path(out) / (stem + ("" if identities == "evaluation" else f"_{identities}")
                        + ".jsonl")


def load_heldout(out: Path, folds: int = 2, identities: str = "evaluation") -> "list[dict]":
    return _read_records(heldout_path(out, folds, identities))


def heldout_run(out: Path, names: "list[str]", spec, folds: int = 2, seeds=SEEDS,
                identities: str = "evaluation") -> None:
    """Every seed of ``seeds`` of ``names`` (kept designs at their own seed, references) on
    held-out images (:func:`heldout_one`) of ``identities`` (:data:`IDENTITIES`), one JSON line
    each in :func:`heldout_path` as it finishes (started in the order of ``names``). Restart
    choices (``"<base> rN fF"``) are refused for the evaluation identities: their designs were
    chosen on those validation images (on unseen identities they are a fair test of the
    choice)."""
    if not (isinstance(folds, int) and folds >= 2):
        raise ValueError(f"--folds: {folds!r} is not allowed; need an integer >= 2")
    if identities not in IDENTITIES:
        raise ValueError(f"--identities: {identities!r} is not allowed; choose from "
                         f"{sorted(IDENTITIES)}")
    chosen = [name for name in names if _RESTART_NAME.match(name.removesuffix(TWIN_SUFFIX))]
    if chosen and identities == "evaluation":
        raise ValueError(f"--names: {chosen} are restart choices, made on the validation images "
                         f"the held-out score reads; score their base names instead")
    done = {(r["name"], r["seed"]) for r in load_heldout(out, folds, identities)}
    todo = [(name, seed) for name in names for seed in seeds if (name, seed) not in done]
    for name, seed in todo:                # every name resolves before anything runs
        _test_encoder(out, name, seed), _task_of(out, name)
    _run_pending(heldout_path(out, folds, identities),
                 [(str(out), n, s, folds, identities) for n, s in todo],
                 [f"{n} seed {s}" for n, s in todo], spec, (IDENTITIES[identities], ()),
                 _heldout_work)


# ----------------------------------------------------------------------------- the report
def _spread(values: "list[float]") -> "tuple[float, float]":
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def strongest(group: "list[dict]", key: str) -> "tuple[float, float]":
    """(mean, std over seeds) of the attack with the highest mean in ``record[key]`` (per-attack
    top-1 %): the figure of Table 1 (``learn.evaluation``: the strongest attack's mean), so the
    study's points and the table's sweeps follow one rule."""
    attacks = group[0][key]
    means = {a: _spread([r[key][a] for r in group]) for a in attacks}
    return means[max(means, key=lambda a: means[a][0])]


def summarise(records: "list[dict]") -> "dict[str, dict]":
    """name -> {identity, identity_std, face, face_std, seeds, task}, over seeds (identity: the
    strongest attack's mean, :func:`strongest`)."""
    by_name: "dict[str, list]" = {}
    for record in records:
        by_name.setdefault(record["name"], []).append(record)
    points = {}
    for name, group in by_name.items():
        identity, identity_std = (strongest(group, "val_top1") if "val_top1" in group[0]
                                  else _spread([r["identity"] for r in group]))
        face, face_std = _spread([r["face"] for r in group])
        points[name] = dict(identity=identity, identity_std=identity_std, face=face,
                            face_std=face_std, seeds=len(group), task=group[0]["task"],
                            per_seed=[(r["identity"], r["face"]) for r in group])
    return points


def frontier(points: "dict[str, dict]", family: str) -> "list[tuple[float, float]]":
    """(face, identity) of a reference family, the lower-right envelope sorted by face: for each
    face accuracy, the most private member at least that useful (a fixed family is free to pick
    its best member)."""
    members = sorted(((p["face"], p["identity"]) for p in points.values()
                      if p["task"][0] == "ref" and p["task"][1] == family))
    envelope, best = [], float("inf")
    for face, identity in reversed(members):
        best = min(best, identity)
        envelope.append((face, best))
    return sorted(envelope)


def reference_at(curve: "list[tuple[float, float]]", face: float) -> "float | None":
    """A reference family's identity accuracy at ``face`` (linear between members; None outside
    its members' range: beyond its most useful member the family cannot reach that utility,
    below its least useful one it was not measured, so nothing is claimed there)."""
    if not curve or face > curve[-1][0] or face < curve[0][0]:
        return None
    for (f0, i0), (f1, i1) in zip(curve, curve[1:]):
        if f0 <= face <= f1:
            return i0 if f1 == f0 else i0 + (i1 - i0) * (face - f0) / (f1 - f0)
    return None


FAMILIES = {"blur": "Gaussian blur", "pixelate": "pixelation", "gauss": "unlearned Conv(1)+MP+Q (sigma)",
            "noise": "unlearned Conv(1)+MP+Q (random PSF)"}


def _order(task: list) -> tuple:
    """Sort key of a task: references first, then by family or method, numbers before words."""
    rest = tuple((1, str(x), 0.0) if isinstance(x, str) or x is None else (0, "", float(x))
                 for x in task[2:])
    return (task[0] != "ref", task[0] == "twin", task[1], rest)


#: The families issue 31's claim names (blur, pixelation, the unlearned Gaussian camera); the
#: random-PSF camera ("noise") is shown beside them, a check that learning beats a random design.
CLAIM_FAMILIES = ("blur", "pixelate", "gauss")
#: The claim's smallest margin (points of identity accuracy), on the means and on every seed.
CLAIM_POINTS = 4.0


def margins_at(curves: "dict[str, list]", face: float, identity: float) -> "dict":
    """family -> the family's identity accuracy at ``face`` minus ``identity`` (points; + = the
    design is more private), None where the family has no member at that face accuracy."""
    refs = {family: reference_at(curve, face) for family, curve in curves.items()}
    return {family: None if ref is None else ref - identity for family, ref in refs.items()}


def margins_text(margins: dict) -> str:
    """``blur +4.2, pixelate n/a, ...`` for the report's tables."""
    return ", ".join(f"{family} n/a" if m is None else f"{family} {m:+.1f}"
                     for family, m in margins.items())


def claim_check(point: dict, curves: "dict[str, list]") -> "tuple[dict, bool, int]":
    """Issue 31's claim for one learned point against the reference families of the claim.

    Returns (family -> margin on the means, for every family of ``curves``, None where the
    family has no member at that face accuracy; whether the means meet
    ``max(CLAIM_POINTS, 2 std)`` against every family of :data:`CLAIM_FAMILIES`; how many seeds
    meet ``CLAIM_POINTS`` against each of them at their own face accuracy). A claim family
    without a value at a face accuracy fails the claim there.
    """
    margins = margins_at(curves, point["face"], point["identity"])
    claim_curves = {family: curve for family, curve in curves.items() if family in CLAIM_FAMILIES}

    def meets(values: dict, need: float) -> bool:
        return all(values[family] is not None and values[family] >= need for family in claim_curves)

    on_means = meets(margins, max(CLAIM_POINTS, 2 * point["identity_std"]))
    seeds = sum(meets(margins_at(claim_curves, face, identity), CLAIM_POINTS)
                for identity, face in point["per_seed"])
    return margins, on_means, seeds


def report(out: Path) -> str:
    """Write ``OUT/learning_study.md``, ``OUT/frontier.png`` and ``OUT/psfs.png`` from
    ``OUT/records.jsonl`` (and the kept designs)."""
    choices = restart_choices(load(out), load_restarts(out))
    extra = [*choices.values(), *redrawn(load_restarts(out)).values()]
    points = summarise(load(out) + [record for group in extra for record in group])
    curves = {family: curve for family in FAMILIES if (curve := frontier(points, family))}
    lines = ["| encoder | seeds | identity % (val, strongest) | face % (val) | margin to each "
             "reference at its face accuracy (points; + = more private) | seeds 4 points below "
             "blur, pixelation and Gaussian | claim (means max(4, 2 std), all seeds) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, p in sorted(points.items(), key=lambda item: _order(item[1]["task"])):
        learned = p["task"][0] == "learn"
        margin_text, seeds_text, claim = "-", "-", "-"
        if learned:
            margins, on_means, seeds = claim_check(p, curves)
            margin_text = margins_text(margins)
            seeds_text = f"{seeds}/{p['seeds']}"
            claim = "yes" if on_means and seeds == p["seeds"] else "no"
        lines.append(f"| {name} | {p['seeds']} | {p['identity']:.1f} +- {p['identity_std']:.1f} | "
                     f"{p['face']:.1f} +- {p['face_std']:.1f} | {margin_text} | {seeds_text} | "
                     f"{claim} |")
    _plot(points, curves, out / "frontier.png")
    plot_restarts(load(out), load_restarts(out), curves, out / "restarts.png")
    plot_psfs(out, out / "psfs.png")
    plot_probe_codes(out, out / "probe_codes.png")
    text = ("Validation identity accuracy (top-1 %, strongest of " + ", ".join(ATTACKS) +
            " -- of " + ", ".join(PROBE_ATTACKS) + " for the free encoders, cnn / lcnn" +
            ", mean +- std over seeds " + ", ".join(map(str, SEEDS)) + ") against face vs "
            "no-face validation accuracy; the test split is not read. Reference frontiers: for "
            "each face accuracy, the most private member of the family at least that useful, "
            "linear between members. Figures: frontier.png, psfs.png (the learned PSFs of seed "
            "0), probe_codes.png (codes of validation faces and no-faces through the free "
            "encoders and the cameras).\n\n" + "\n".join(lines) + "\n")
    text += _restarts_section(choices)
    text += _noise_section(out, load(out))
    crossfits = [(m[2] or "evaluation", int(m[1])) for path in out.glob("crossfit*.jsonl")
                 if (m := _CROSSFIT_FILE.fullmatch(path.name)) and int(m[1]) >= 3]
    for identities in IDENTITIES:
        text += _heldout_section(out, 2, identities)
        for k in sorted(k for who, k in crossfits if who == identities):
            text += _heldout_section(out, k, identities)
    text += _test_section(out)
    (out / "learning_study.md").write_text(text, encoding="utf-8")
    return text


_CROSSFIT_FILE = re.compile(r"crossfit(\d+)(?:_(" + "|".join(
    who for who in IDENTITIES if who != "evaluation") + r"))?\.jsonl")


def _heldout_section(out: Path, folds: int = 2, identities: str = "evaluation") -> str:
    """The held-out table of :func:`heldout_path`, its frontiers and claim, and its figure
    (``heldout_frontier.png``, ``crossfit<k>_frontier.png``, ``..._unseen_frontier.png``); empty
    until ``--phase heldout`` (with ``--folds``, ``--identities``) has run."""
    records = load_heldout(out, folds, identities)
    if not records:
        return ""
    points = summarise(records)
    curves = {family: curve for family in FAMILIES if (curve := frontier(points, family))}
    tests: "dict[str, list]" = {}
    for record in load_test(out):
        tests.setdefault(record["name"], []).append(record)
    lines = ["| encoder | seeds | identity % (held out) | face % (held out) | identity % / face % "
             "(selected on, same folds) | identity % / face % (test, strongest of 5) | margin "
             "to each reference at its face accuracy | seeds 4 points below blur, pixelation "
             "and Gaussian | claim |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, p in sorted(points.items(), key=lambda item: _order(item[1]["task"])):
        group = [r for r in records if r["name"] == name]
        selected = (f"{strongest(group, 'selected_top1')[0]:.1f} / "
                    f"{_spread([r['selected_face'] for r in group])[0]:.1f}")
        test = "-"
        if name in tests:
            test = (f"{strongest(tests[name], 'test_top1')[0]:.1f} / "
                    f"{_spread([r['face'] for r in tests[name]])[0]:.1f}")
        margin_text, seeds_text, claim = "-", "-", "-"
        if p["task"][0] == "learn":
            margins, on_means, seeds = claim_check(p, curves)
            margin_text, seeds_text = margins_text(margins), f"{seeds}/{p['seeds']}"
            claim = ("yes" if on_means and seeds == p["seeds"] else "no"
                     ) if p["seeds"] >= len(SEEDS) else f"- ({p['seeds']} seed(s))"
        lines.append(f"| {name} | {p['seeds']} | {p['identity']:.1f} +- {p['identity_std']:.1f} | "
                     f"{p['face']:.1f} +- {p['face_std']:.1f} | {selected} | {test} | "
                     f"{margin_text} | {seeds_text} | {claim} |")
    figure = heldout_path(out, folds, identities).stem + "_frontier.png"
    heading, title, intro = _heldout_texts(folds, identities)
    _plot(points, curves, out / figure, title=title)
    return f"\n## {heading}\n\n{intro} Figure: {figure}.\n\n" + "\n".join(lines) + "\n"


def _heldout_texts(folds: int, identities: str) -> "tuple[str, str, str]":
    """Heading, figure title and introduction of :func:`_heldout_section`'s section."""
    if identities == "unseen":
        scheme = ("the validation parts halved" if folds == 2 else
                  f"every image cross-fitted over {folds} folds")
        return (f"Replicated on unseen identities ({scheme})", f"Unseen identities ({scheme})",
                f"`--phase heldout --identities unseen --folds {folds}`: the same designs and "
                f"references scored on the bundled face set's encoder identities "
                f"(`learn.heldout.unseen_identity_data`: 32 people, 775 images), whom no study "
                f"design learned from (the designs learn from LFW role E) and on whom no choice "
                f"of this study was made: a replication of the comparisons above on images "
                f"nothing has seen ({scheme}, `learn.heldout`). The detector's no-face images "
                f"are the evaluation split's training and validation ones. Columns as above "
                f"(the test column is the evaluation identities' test run); margins and claim "
                f"from the references scored the same way (a claim needs every seed).")
    if folds == 2:
        return ("Held-out validation",
                "On held-out validation images (no attacker or detector selected on them)",
                "`--phase heldout`: every (name, seed) scored like the table above, but on "
                "validation images no model of the evaluation selected on (`learn.heldout`: the "
                "validation parts halved per person, faces and no-faces apart; each half scores "
                "the attackers and detector that chose their epoch and weight decay on the "
                "other). This removes the attackers' selection, not the study's: the recipes "
                "were chosen on these images. The selection-biased figures of the same folds "
                "stand beside them, and the test run's where one was made. Frontiers and claim "
                "as above, from the held-out references.")
    return (f"Cross-fitted over training and validation images ({folds} folds)",
            f"Cross-fitted over the {folds} folds of the training and validation images",
            f"`--phase heldout --folds {folds}`: every training and validation image of the "
            f"evaluation identities scored once (`learn.heldout.crossfit_validation`: {folds} "
            f"blocks per person, faces and no-faces apart; each block scored by attackers and a "
            f"detector trained on {folds - 2} others and selected on the next): more scored "
            f"images than the validation part alone, by attackers trained on fewer. The "
            f"validation images among them are those the recipes were chosen on. Columns: "
            f"identity and face accuracy on the cross-fitted images, the same folds' "
            f"selection-biased figures, the test run's where one was made, margins and claim "
            f"from the cross-fitted references (a claim needs every seed: '-' with fewer).")


ROOT = Path(__file__).resolve().parents[1]


def _table1_sweeps() -> "dict[str, dict[str, dict]]":
    """Blur and pixelation members of the full Table 1's test sweeps: family -> name ->
    point (face %, identity %, ``task``)."""
    path = ROOT / "docs/results/table1/full_table1.json"
    if not path.is_file():
        return {}
    sweeps = json.loads(path.read_text())["sweeps"]
    return {family: {f"{family}:{m['strength_px']:g}": dict(
        identity=100 * m["id_top1_mean"], identity_std=100 * m["id_top1_std"],
        face=100 * m["face_acc_mean"], task=["ref", family, m["strength_px"]])
        for m in sweeps.get(family, [])} for family in ("blur", "pixelate")}


def _test_section(out: Path) -> str:
    """The test run's table and claim (empty until ``--phase test`` has run)."""
    records = load_test(out)
    if not records:
        return ""
    groups: "dict[str, list]" = {}
    for record in records:
        groups.setdefault(record["name"], []).append(record)
    # the test frontiers: Table 1's blur and pixelation sweeps, with the references the test
    # runs measured (gauss, or blur / pixelation strengths Table 1 lacks) as further members
    members = _table1_sweeps()
    for name, group in groups.items():
        kind, _, strength = name.partition(":")
        if kind in ("gauss", "blur", "pixelate") and strength and not name.endswith(TWIN_SUFFIX):
            members.setdefault(kind, {}).setdefault(name, dict(
                identity=strongest(group, "test_top1")[0],
                face=_spread([r["face"] for r in group])[0], task=["ref", kind, float(strength)]))
    curves = {family: frontier(points, family) for family, points in members.items()}
    lines = ["| encoder | seeds | identity % (test, strongest of 5) | face % (test) | "
             "verification % (strongest) | AUC | margin to each reference at its face accuracy |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, group in groups.items():
        identity, identity_std = strongest(group, "test_top1")
        face, face_std = _spread([r["face"] for r in group])
        ver, ver_std = _spread([r["verification"] for r in group])
        auc, auc_std = _spread([r["auc"] for r in group])
        margins = ("-" if ":" in name else margins_text(margins_at(curves, face, identity)))
        lines.append(f"| {name} | {len(group)} | {identity:.1f} +- {identity_std:.1f} | "
                     f"{face:.1f} +- {face_std:.1f} | {ver:.1f} +- {ver_std:.1f} | "
                     f"{auc:.3f} +- {auc_std:.3f} | {margins} |")
    return ("\n## The test run (full protocol, read once)\n\nIdentity: strongest of the five "
            "attacks of the full suite on the test part; verification: strongest of cosine, MLP "
            "and Inception on role-T pairsDevTest pairs (docs/results/verification for blur and "
            "pixelation). Blur and pixelation frontiers: docs/results/table1/full_table1.json "
            "(same protocol and seeds) and the blur strengths measured here.\n\n" + "\n".join(lines) + "\n")


#: how the frontier plots tell apart the learned points of a named start (:data:`NAMED_STARTS`)
_START_LABELS = {"fpsf": " (factorised PSF)",
                 "fpsf_physical": " (factorised PSF, learned in physical mode)",
                 "conv4": " (Conv(4))",
                 "fpsf4": " (Conv(4), factorised PSFs)",
                 "fpsf4_physical": " (Conv(4), factorised PSFs, learned in physical mode)"}


def _plot(points: "dict[str, dict]", curves: dict, path: Path,
          title: str = "Learned cameras vs fixed frontiers (LFW-scale encoder faces)") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 5.5))
    for family, label in FAMILIES.items():
        members = sorted((p["face"], p["identity"], p["identity_std"]) for p in points.values()
                         if p["task"][0] == "ref" and p["task"][1] == family)
        if members:
            line = axes.errorbar([m[0] for m in members], [m[1] for m in members],
                                 yerr=[m[2] for m in members], fmt="o", ms=4, alpha=0.6,
                                 capsize=2)
            axes.plot([c[0] for c in curves[family]], [c[1] for c in curves[family]], "-",
                      color=line[0].get_color(), label=label)
        twins = sorted((p["face"], p["identity"], p["identity_std"]) for p in points.values()
                       if p["task"][0] == "twin" and p["task"][1] == family)
        if twins:  # the family's physical twins (gauss:S twin): dashed, no frontier of the claim
            axes.errorbar([m[0] for m in twins], [m[1] for m in twins],
                          yerr=[m[2] for m in twins], fmt="o--", ms=4, alpha=0.8, capsize=2,
                          label=f"{label}, physical twin")

    def kind(task) -> str:  # the method, named starts and physical twins apart; no probes
        start = str(task[4])
        twin = start.endswith(TWIN_SUFFIX)
        label = _START_LABELS.get(start.removesuffix(TWIN_SUFFIX), "")
        return task[1] + label + (" (its physical twin)" if twin else "")

    learned = [p for p in points.values()
               if p["task"][0] == "learn" and p["task"][4] not in FREE_ENCODERS]
    for marker, method in zip(itertools.cycle("s^Dv*PXhd<>p1234"),
                              sorted({kind(p["task"]) for p in learned})):
        group = [p for p in learned if kind(p["task"]) == method]
        axes.errorbar([p["face"] for p in group], [p["identity"] for p in group],
                      xerr=[p["face_std"] for p in group], yerr=[p["identity_std"] for p in group],
                      fmt=marker, ms=7, capsize=3, label=f"learned: {method}")
    _save_frontier_axes(figure, axes, title, path, legend_size=8)


def _save_frontier_axes(figure, axes, title: str, path: Path, legend_size: int) -> None:
    """Label the study's validation axes (face %, identity %), save ``path`` and close."""
    import matplotlib.pyplot as plt

    axes.set_xlabel("face vs no-face accuracy, validation (%)")
    axes.set_ylabel("identity accuracy, strongest attack, validation (%)")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=legend_size)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def plot_restarts(records: "list[dict]", restart_records: "list[dict]", curves: dict,
                  path: Path) -> bool:
    """Every design of the recipes with restarts, one dot each, against the reference frontiers:
    the study's own designs (filled) and the restarts (open), per recipe; False when there are
    no restarts to draw."""
    if not restart_records:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7.5, 5.5))
    for family, label in FAMILIES.items():
        if family in curves and family in CLAIM_FAMILIES:
            axes.plot([c[0] for c in curves[family]], [c[1] for c in curves[family]], "-",
                      label=label)
    for name in sorted({r["name"] for r in restart_records}):
        own = [r for r in records if r["name"] == name]
        redraws = [r for r in restart_records if r["name"] == name]
        dots = axes.plot([r["face"] for r in own], [r["identity"] for r in own], "o", ms=7,
                         label=f"{name}: study seeds 0-2")
        axes.plot([r["face"] for r in redraws], [r["identity"] for r in redraws], "o", ms=7,
                  mfc="none", color=dots[0].get_color(), label=f"{name}: restarts")
    _save_frontier_axes(figure, axes, "Every design of the restarted recipes (one dot a "
                        "design and seed)", path, legend_size=7)
    return True


def plot_psfs(out: Path, path: Path, seed: int = 0) -> "list[str]":
    """Draw the kept learned designs' PSFs at ``seed`` (first filter and colour channel, each
    scaled to its own peak |tap|; red positive, blue negative) beside the Gaussian they started
    from; returns the names drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from optics.kernels import gaussian_psf

    names = sorted({r["name"] for r in load(out) if r["task"][0] == "learn"
                    and design_folder(out, r["name"], seed).is_dir()})
    if not names:
        return []
    panels = [("Gaussian sigma 8 px (most starts)", gaussian_psf(63, 8.0).numpy())]
    for name in names:
        with np.load(design_folder(out, name, seed) / "psf.npz") as bundle:
            panels.append((name, bundle["psf"].reshape(-1, *bundle["psf"].shape[-2:])[0]))
    columns = min(5, len(panels))
    rows = -(-len(panels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.8 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, (title, psf) in zip(axes.flat, panels):
        peak = float(np.abs(psf).max()) or 1.0
        axis.imshow(psf / peak, cmap="RdBu_r", vmin=-1, vmax=1)
        axis.set_title(f"{title}\n{psf.shape[-1]} px, peak {peak:.2g}", fontsize=7)
    figure.suptitle(f"Learned PSFs, seed {seed} (the first filter's, each scaled to its peak)",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return names


#: (title, study name or reference) of the rows of probe_codes.png
PROBE_ROWS = (("Gaussian camera, sigma 8 px (unlearned)", "gauss:8"),
              ("learned camera (default recipe)", "closed_form_hard_detector a200 t0.9 s8"),
              ("free encoder, CNN (probe)", "closed_form_hard_detector a200 t0.9 cnn"),
              ("free encoder, linear CNN (probe)", "closed_form_hard_detector a200 t0.9 lcnn"))


def _probe_encoder(out: Path, name: str, seed: int):
    """The encoder of a ``PROBE_ROWS`` name at ``seed``: a free encoder's kept weights
    (``OUT/probes``), a kept design or a reference; None where nothing is kept."""
    import torch

    from learn.table1_cameras import camera_encoder

    start = name.rsplit(" ", 1)[-1]
    if start in FREE_ENCODERS:
        weights = out / "probes" / name.replace(" ", "_") / f"seed{seed}.pt"
        if not weights.is_file():
            return None
        from free_encoder import FreeEncoder

        encoder = FreeEncoder(seed=seed, linear=start == "lcnn")
        encoder.load_state_dict(torch.load(weights, map_location="cpu"))
        return camera_encoder(encoder)
    if ":" not in name and not design_folder(out, name, seed).is_dir():
        return None
    return _test_encoder(out, name, seed)


def plot_probe_codes(out: Path, path: Path, seed: int = 0, people: int = 3) -> "list[str]":
    """Draw the 8 x 8 codes (mean over the colour channels, 0..15) of two validation faces of
    each of ``people`` evaluation people and of three no-face images, one row per
    :data:`PROBE_ROWS` encoder kept at ``seed`` (nothing is drawn without a kept free
    encoder); returns the names drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    from learn import datasets
    from learn.evaluation import data_from_splits

    rows = [(title, name, encoder) for title, name in PROBE_ROWS
            if (encoder := _probe_encoder(out, name, seed)) is not None]
    if not any(name.rsplit(" ", 1)[-1] in FREE_ENCODERS for _, name, _ in rows):
        return []
    data = data_from_splits(datasets.default_splits(0))
    labels = data.id_val.labels
    chosen = [int(i) for person in labels.unique()[:people]
              for i in torch.nonzero(labels == person).flatten()[:2]]
    nonfaces = torch.nonzero(data.det_val.labels == 0).flatten()[:3]
    images = torch.cat([data.id_val.images[chosen], data.det_val.images[nonfaces]])
    titles = [f"person {int(labels[i])}" for i in chosen] + ["no face"] * len(nonfaces)
    figure, axes = plt.subplots(len(rows) + 1, len(images), squeeze=False,
                                figsize=(1.3 * len(images), 1.45 * (len(rows) + 1)))
    for column, (image, title) in enumerate(zip(images, titles)):
        axes[0, column].imshow(image.permute(1, 2, 0).clamp(0, 1).numpy() ** (1 / 2.2))
        axes[0, column].set_title(title, fontsize=7)
    with torch.no_grad():
        for row, (title, _, encoder) in enumerate(rows, start=1):
            codes = encoder(images, torch.Generator().manual_seed(seed)).float().mean(dim=1)
            for column in range(len(images)):
                axes[row, column].imshow(codes[column].numpy(), cmap="gray", vmin=0, vmax=15)
            axes[row, 0].set_ylabel(title, fontsize=6, rotation=0, ha="right", va="center")
    for axis in axes.flat:
        axis.set_xticks([]), axis.set_yticks([])
    figure.suptitle(f"Validation scenes and their 8 x 8 codes (mean of R, G, B codes; seed {seed})",
                    fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return [name for _, name, _ in rows]


def build_parser() -> argparse.ArgumentParser:
    """The study's command line (the module docstring)."""
    from canopic.app.commands.engine_flags import add_engine_flags

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="results folder")
    parser.add_argument("--phase", choices=("references", "learned", "restarts", "noise",
                                            "heldout", "test"))
    parser.add_argument("--restarts", type=int, default=3,
                        help="--phase restarts: designs per evaluation seed, the study's own "
                             "included")
    parser.add_argument("--names", default="", help="--phase test / noise / heldout: "
                                                    "comma-separated study names")
    parser.add_argument("--folds", type=int, default=2,
                        help="--phase heldout only: 2 halves the validation images (OUT/heldout.jsonl); "
                             "k >= 3 cross-fits every training and validation image over k "
                             "folds (OUT/crossfit<k>.jsonl, k evaluations a score)")
    parser.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                        help="--phase heldout only: evaluation seeds (default 0,1,2)")
    parser.add_argument("--identities", choices=sorted(IDENTITIES), default="evaluation",
                        help="--phase heldout only: score the evaluation identities, or the "
                             "face set's 32 encoder identities that no study design learned "
                             "from or was chosen on (unseen: a replication; "
                             "OUT/<heldout|crossfitK>_unseen.jsonl)")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated METHODS")
    parser.add_argument("--alphas", default="50", help="privacy weights (per 100 nats)")
    parser.add_argument("--targets", default="0.9", help="face targets (in-loop detector, 0..1)")
    parser.add_argument("--start-sigma", type=float, default=8.0,
                        help="Gaussian sigma (px) of the starting Conv(1) PSF")
    parser.add_argument("--conv", choices=("conv1", *NAMED_STARTS, *FREE_ENCODERS),
                        default="conv1",
                        help="camera learned: Conv(1) from --start-sigma, Conv(4) from its "
                             "four half-plane bars (sensor.Camera), Conv(1) with a factorised "
                             "PSF (optics.factorised; fpsf_physical: learned in physical mode, "
                             "two masks and PHYSICAL_CAMERA's noise), Conv(4) with four "
                             "factorised PSFs (fpsf4, fpsf4_physical), or a free encoder (a CNN "
                             "where the optics would be, lcnn: without its ReLUs; "
                             "free_encoder.py, a probe of the method, not a design)")
    for field, _, kind, text in EXTRAS:
        parser.add_argument("--" + field.replace("_", "-"), type=kind, default=None, help=text)
    parser.add_argument("--workers", type=int, default=None,
                        help="local: processes, one thread each (default 1); ray: actors")
    parser.add_argument("--report", action="store_true", help="only write the report")
    add_engine_flags(parser)
    return parser


def main() -> None:
    from canopic.app.commands.engine_flags import engine_spec

    parser = build_parser()
    args = parser.parse_args()
    if not args.report:
        if not args.phase:
            parser.error("--phase is needed unless --report")
        out = args.out.resolve()
        names = [n.strip() for n in args.names.split(",") if n.strip()]
        if args.phase == "restarts":
            restarts_run(out, names, args.restarts, engine_spec(args, folder=out))
        elif args.phase in ("test", "noise", "heldout"):
            out.mkdir(parents=True, exist_ok=True)
            if args.phase == "heldout":
                heldout_run(out, names, engine_spec(args, folder=out), args.folds,
                            _seed_list(args.seeds), args.identities)
            else:
                run = {"test": test_run, "noise": noise_run}[args.phase]
                run(out, names, engine_spec(args, folder=out))
        else:
            study(out, plan(args.phase, args), engine_spec(args, folder=out))
    print(report(args.out))


if __name__ == "__main__":
    main()
