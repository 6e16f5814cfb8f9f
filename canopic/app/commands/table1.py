"""``canopic table1``: the paper's Table 1 on the bundled data (learn.table1)."""
from __future__ import annotations

import dataclasses

from canopic.app.commands.common import add_command, add_deprecated_alias
from canopic.app.commands.engine_flags import add_engine_flags


def register(subparsers) -> None:
    """Add ``canopic table1`` to ``subparsers``."""
    parser = add_command(
        subparsers, "table1", func=run, overwrite=True, resumes=True,
        out="output folder; each finished row and sweep point is kept per seed in OUT/tasks/ "
            "and reused when the same command runs again, or with more rows or seeds (same "
            "profile, attacks and data)",
        seed="first evaluation seed: the seeds are SEED..SEED+N-1 (N: --seeds)",
        device="where encoders, attackers and learned rows compute: auto (CUDA when present), "
               "cpu, cuda, cuda:N; workers share it",
        help="evaluate every Table 1 configuration (privacy vs utility) with the attack suite",
        description="Every row of the paper's Table 1 (clean, Gaussian blur, pixelation, each "
                    "CAnOPIC configuration unlearned, learned here and as published) evaluated by "
                    "one protocol: hard quantiser, identities the encoder never saw, an attack suite "
                    "(Inception-style CNN, MLP, logistic regression, k-NN, reconstruction) trained "
                    "from scratch with model selection on validation, the test split read once, "
                    "several seeds. Writes OUT/table1.csv, OUT/table1.md, OUT/table1.json, "
                    "OUT/privacy_utility.png (Fig. 5) and OUT/parameters.png (Fig. 3).")
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized profile: 90 images per split part (all identities), a few epochs, tiny "
                             "alternating optimisation, one seed unless --seeds is given")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of evaluation seeds (SEED..SEED+N-1); default 3, or 1 with "
                             "--quick")
    parser.add_argument("--rows", default=None,
                        help="comma-separated row keys to run (default: all; see table1.csv 'key')")
    parser.add_argument("--attacks", default=None,
                        help="comma-separated attacks (default: inception,mlp,logistic,knn,reconstruct)")
    parser.add_argument("--faces", default="faces64_wide", help="faces: bundled name, .npz or folder")
    parser.add_argument("--nonfaces", default="nonfaces64", help="no-face images: bundled name, .npz or folder")
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the identity split")
    parser.add_argument("--encoder-faces", choices=("auto", "lfw-e", "faces"), default="auto",
                        help="labelled faces the learned rows hide: 'lfw-e' (LFW role E, 572 "
                             "people), 'faces' (the --faces set's own encoder identities, as the "
                             "tables in docs/results/table1 were learned) or 'auto' (lfw-e for "
                             "the bundled face sets, faces for your own)")
    parser.add_argument("--blur-sigmas", default=None,
                        help="comma-separated Gaussian blur sigmas (px) of the privacy-utility sweep "
                             "(default: the profile's; 'none' for no sweep)")
    parser.add_argument("--pixelate-blocks", default=None,
                        help="comma-separated pixelation blocks (px) of the sweep (default: the "
                             "profile's; 'none' for no sweep)")
    parser.add_argument("--alternating", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the learned rows' alternating optimisation "
                             "(learn.alternating.AlternatingSettings), e.g. encoder_epochs=10; "
                             "repeatable")
    parser.add_argument("--camera", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the learned rows' camera (sensor.CameraConfig), "
                             "e.g. min_threshold_spacing=0.5; the rows get a key suffix "
                             "(_min_threshold_spacing0.5); repeatable")
    parser.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                        help="override a field of the attackers' training budget "
                             "(learn.attacks.AttackBudget), e.g. cnn_epochs=80; repeatable")
    parser.add_argument("--learn-mode", choices=("ideal", "physical"), default="ideal",
                        help="how the learned rows learn: with the paper's ideal camera, or in "
                             "physical mode (two-mask kernel, the physical camera's pixel, "
                             "comparator and ADC noise in the loop); physical-mode rows get the "
                             "key suffix '_physical_mode'")
    parser.add_argument("--no-physical", action="store_true",
                        help="skip the physical-camera columns")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; the attack networks are small, so on a shared "
                             "CPU one thread per process is usually fastest (0: torch's default)")
    parser.add_argument("--workers", type=int, default=None,
                        help="tasks (a row or sweep point at one seed) evaluated in parallel: "
                             "local: processes (default 1; use the number of CPU cores; each "
                             "worker runs --threads torch threads); ray: Ray actors (default: as "
                             "many as the cluster holds)")
    add_engine_flags(parser)
    add_deprecated_alias(parser, "--no-resume", "--overwrite", dest="overwrite")
    parser.add_argument("--plan", action="store_true",
                        help="compute nothing: list the tasks (a row or sweep point at one seed), "
                             "their relative cost and which OUT/tasks/ already holds, then exit")


def _choose(text, allowed, name: str) -> "tuple | None":
    if text is None:
        return None
    chosen = tuple(item.strip() for item in text.split(",") if item.strip())
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        raise ValueError(f"--{name}: {unknown or text!r} not allowed; choose from {list(allowed)}")
    return chosen


def _strengths(text: str, kind, name: str) -> tuple:
    """Parse a comma-separated list of positive numbers ('none': empty)."""
    if text.strip().lower() == "none":
        return ()
    try:
        values = tuple(kind(item) for item in text.split(",") if item.strip())
    except ValueError:
        values = ()
    if not values or min(values) <= 0:
        raise ValueError(f"--{name}: {text!r} is not allowed; need comma-separated numbers > 0 "
                         "or 'none'")
    return values


def _check_pixelate_blocks(blocks, image_size: int) -> None:
    """Refuse pixelation blocks that leave the attackers fewer than MIN_INPUT_SIZE px a side
    (``image_size`` px images), before anything is computed."""
    from learn.attack_networks import MIN_INPUT_SIZE

    small = [block for block in blocks if image_size // block < MIN_INPUT_SIZE]
    if small:
        raise ValueError(f"--pixelate-blocks: {small} leave fewer than {MIN_INPUT_SIZE} px a "
                         f"side of {image_size} px images for the attackers; need blocks <= "
                         f"{image_size // MIN_INPUT_SIZE}")


def _key_values(items: "list[str]", flag: str, fields: "set[str] | None", need: str) -> dict:
    """Parse repeated ``KEY=VALUE`` items of ``--flag`` (values as JSON, else text); a KEY
    outside ``fields`` (any non-empty KEY when None) is refused with ``need`` as the hint."""
    import json

    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key or (fields is not None and key not in fields):
            raise ValueError(f"--{flag}: {item!r} is not allowed; need KEY=VALUE with KEY {need}")
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


def _overrides(items: "list[str]") -> dict:
    """Parse ``KEY=VALUE`` overrides of AlternatingSettings (values as JSON, else text)."""
    from learn.alternating import AlternatingSettings

    fields = {field.name for field in dataclasses.fields(AlternatingSettings)} - {"alpha"}
    parsed = _key_values(items, "alternating", fields,
                         f"one of {sorted(fields)} (alpha is set per row)")
    AlternatingSettings(**parsed)  # a bad value fails here, before any work
    return parsed


def _camera_overrides(items: "list[str]") -> dict:
    """Parse ``KEY=VALUE`` overrides of the learned rows' CameraConfig (values as JSON, else
    text); the fields and values are checked by ``learn.table1.camera_override_row``."""
    return _key_values(items, "camera", None, "a sensor.CameraConfig field")


def _budget_overrides(items: "list[str]") -> dict:
    """Parse ``KEY=VALUE`` overrides of AttackBudget (integer values)."""
    from learn.attacks import AttackBudget

    fields = {field.name for field in dataclasses.fields(AttackBudget)}
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        try:
            number = int(value)
        except ValueError:
            number = None
        if not sep or key not in fields or number is None:
            raise ValueError(f"--budget: {item!r} is not allowed; need KEY=INTEGER with KEY one "
                             f"of {sorted(fields)}")
        parsed[key] = number
    return parsed


def run(args) -> int:
    """Handler of ``canopic table1``."""
    import os

    import torch

    from canopic.app.commands.engine_flags import engine_device, engine_spec
    from learn import table1
    from learn.attacks import ATTACK_NAMES
    from learn.runs import resolve_device

    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if seeds < 1:
        raise ValueError(f"--seeds: {seeds} is not allowed; need an integer >= 1")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers: {args.workers} is not allowed; need an integer >= 1")
    if args.threads < 0:
        raise ValueError(f"--threads: {args.threads} is not allowed; need an integer >= 0")
    from learn.encoder_faces import resolve_encoder_faces

    profile = table1.QUICK if args.quick else table1.FULL
    profile = dataclasses.replace(profile, encoder_faces=resolve_encoder_faces(
        args.encoder_faces, args.faces))
    if args.no_physical:
        profile = dataclasses.replace(profile, physical=False)
    if args.budget:
        profile = dataclasses.replace(profile, budget=dataclasses.replace(
            profile.budget, **_budget_overrides(args.budget)))
    if args.engine == "ray":  # Ray's nodes see the run folder by its full path
        args.out = os.path.abspath(args.out)
    # the engine (Ray there, reachable, large enough, the run folder seen by every node) and
    # the device (a bad or absent one) fail here, before any data is read or file written
    args.engine_spec = engine_spec(args, folder=args.out, check=not args.plan)
    args.device = engine_device(args.device, args.engine_spec, resolve_device)
    if args.alternating:
        profile = dataclasses.replace(profile, alternating={**profile.alternating,
                                                            **_overrides(args.alternating)})
    if args.blur_sigmas is not None:
        profile = dataclasses.replace(profile, blur_sigmas_px=_strengths(
            args.blur_sigmas, float, "blur-sigmas"))
    if args.pixelate_blocks is not None:
        profile = dataclasses.replace(profile, pixelate_blocks=_strengths(
            args.pixelate_blocks, int, "pixelate-blocks"))
    keys = _choose(args.rows, [row.key for row in table1.ROWS], "rows")
    rows = table1.ROWS if keys is None else tuple(r for r in table1.ROWS if r.key in keys)
    if args.learn_mode == "physical":
        rows = tuple(table1.physical_mode_row(row) for row in rows)
    if args.camera:
        overrides = _camera_overrides(args.camera)
        rows = tuple(table1.camera_override_row(row, overrides) for row in rows)
        if not any(row.kind == "learned" for row in rows):
            raise ValueError("--camera: only learned rows take camera overrides; choose some "
                             "with --rows (e.g. conv4_mp_q_a50_learned)")
    attacks = _choose(args.attacks, ATTACK_NAMES, "attacks") or ATTACK_NAMES
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return _run_table(args, profile, rows, attacks, seeds)
    finally:
        torch.set_num_threads(threads_before)


def _device_name(device: str) -> str:
    """``cpu``, or ``cuda:N (<GPU name>)``."""
    import torch

    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def _run_table(args, profile, rows, attacks, seeds: int) -> int:
    """Run the table with parsed arguments and write every output file."""
    import functools
    import os
    import time

    from canopic.app.commands.engine_flags import engine_meta
    from learn import datasets, plots, table1

    start = time.perf_counter()
    seed_range = range(args.seed, args.seed + seeds)
    load_splits = functools.partial(datasets.default_splits, args.split_seed, args.faces,
                                    args.nonfaces)
    splits = load_splits()  # fails early, here, on bad data
    _check_pixelate_blocks(profile.pixelate_blocks, splits.nonfaces_train.images.shape[1])
    if args.overwrite and not args.plan:  # start over: forget every finished task
        import shutil

        shutil.rmtree(os.path.join(args.out, "tasks"), ignore_errors=True)
    cache = table1.TaskCache(
        os.path.join(args.out, "tasks"),
        {"profile": {key: value for key, value in dataclasses.asdict(profile).items()
                     if key not in ("blur_sigmas_px", "pixelate_blocks")},  # not per task
         "seeds": seeds, "attacks": list(attacks),
         "faces": args.faces, "nonfaces": args.nonfaces, "split_seed": args.split_seed,
         "format": 1})
    if args.plan:
        print("\n".join(table1.plan_lines(table1.table_tasks(rows, profile, seed_range), cache,
                                          args.workers or 1)))
        return 0
    spec = args.engine_spec  # local processes load their own splits; Ray gets them once
    in_pool = spec.kind == "local" and (args.workers or 1) > 1
    results, sweeps = table1.run_table1(load_splits if in_pool else splits, profile,
                                        seeds=seed_range, attacks=attacks, rows=rows,
                                        progress=not args.quiet, workers=args.workers or 1,
                                        threads=args.threads, cache=cache, device=args.device,
                                        engine=spec)
    seconds = time.perf_counter() - start
    meta = {"profile": "quick" if args.quick else "full", "seeds": seeds,
            "first_seed": args.seed,
            "attacks": ",".join(attacks), "faces": args.faces, "nonfaces": args.nonfaces,
            "split_seed": args.split_seed, "eval_identities": len(splits.eval_identities),
            "workers": args.workers or (1 if spec.kind == "local" else "auto"),
            "threads": args.threads, "device": _device_name(args.device),
            **engine_meta(spec),
            "budget": dataclasses.asdict(profile.budget), "n_augment": profile.n_augment,
            "alternating": dict(profile.alternating), "learn_mode": args.learn_mode,
            "encoder_faces": profile.encoder_faces,
            "camera_overrides": _camera_overrides(args.camera),
            "physical": profile.physical,
            "blur_sigmas_px": list(profile.blur_sigmas_px),
            "pixelate_blocks": list(profile.pixelate_blocks),
            "wall_seconds": round(seconds, 1)}
    paths = table1.write_table1(results, args.out, sweeps, meta)
    records = [table1.csv_record(item, None) for item in results]
    plots.plot_privacy_utility(records, sweeps, os.path.join(args.out, "privacy_utility.png"))
    cameras = table1.parameter_cameras(results)
    if cameras:
        plots.plot_parameters(cameras, os.path.join(args.out, "parameters.png"))
    if not args.quiet:
        print(open(paths["md"]).read())
        print(f"table1: wrote {paths['csv']} ({len(results)} rows) in {seconds:.0f} s")
    return 0
