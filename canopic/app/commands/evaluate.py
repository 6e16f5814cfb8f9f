"""``canopic evaluate``: one encoder through the whole protocol (learn.evaluate_one)."""
from __future__ import annotations

from canopic.app.commands.common import add_command


def register(subparsers) -> None:
    """Add ``canopic evaluate`` to ``subparsers``."""
    parser = add_command(
        subparsers, "evaluate", func=run, overwrite=True,
        out="output folder: evaluation.json and evaluation.md",
        seed="first evaluation seed: the seeds are SEED..SEED+N-1 (N: --seeds)",
        device="where the attackers train: auto (CUDA when present), cpu, cuda, cuda:N",
        help="evaluate one encoder: identification, face vs no-face, LFW verification",
        description="Attack one encoder as Table 1 attacks its rows: the attack suite on the 30 "
                    "evaluation identities (strongest attack's top-1), the face vs no-face "
                    "detector, and the LFW verification attack on pairs of people no attacker "
                    "or encoder saw (accuracy and ROC AUC), each trained from scratch per seed "
                    "with model selection on validation, the test split read once.",
        epilog="example: canopic evaluate runs/demo/conv4/design --out runs/eval_conv4 --quick; "
               "ENCODER: clean, blur:SIGMA_PX, pixelate:BLOCK_PX, a published encoder "
               "(Learned_...) or a design bundle folder")
    parser.add_argument("encoder", help="clean, blur:SIGMA_PX, pixelate:BLOCK_PX, a published "
                                        "encoder name, or a design bundle folder")
    parser.add_argument("--quick", action="store_true",
                        help="CI-sized profile (a few epochs, 90 images per split part, the "
                             "cosine verification attack only); default: the full profile")
    parser.add_argument("--seeds", type=int, default=None,
                        help="number of evaluation seeds; default 3, or 1 with --quick")
    parser.add_argument("--no-verification", action="store_true",
                        help="skip the LFW verification attack")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (0: torch's default)")


def run(args) -> int:
    import logging

    import torch

    from learn.evaluate_one import encoder_from_spec, evaluate_one, write_evaluation
    from learn.table1_rows import FULL, QUICK

    seeds = args.seeds if args.seeds is not None else (1 if args.quick else 3)
    if seeds < 1:
        raise ValueError(f"--seeds: {seeds} is not allowed; need an integer >= 1")
    if args.threads < 0:
        raise ValueError(f"--threads: {args.threads} is not allowed; need an integer >= 0")
    encoder_from_spec(args.encoder)     # a bad ENCODER fails before anything trains
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device: {device} is not available (torch sees no CUDA device); "
                         f"use --device cpu or auto")
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = evaluate_one(args.encoder, QUICK if args.quick else FULL,
                           seeds=range(args.seed, args.seed + seeds), device=device,
                           verification=not args.no_verification, progress=not args.quiet)
    paths = write_evaluation(summary, args.out, overwrite=args.overwrite)
    logging.getLogger("canopic").info("wrote %s", ", ".join(str(p) for p in paths))
    def percent(value: dict) -> str:
        spread = f" +- {value['std']:.1f}" if len(value["values"]) > 1 else ""
        return f"{value['mean']:.1f}{spread} %"

    line = (f"{summary['description']}: identity {percent(summary['identity_top1'])} "
            f"({summary['strongest_attack']}), face {percent(summary['face_accuracy'])}")
    if "verification_accuracy" in summary:
        line += (f", verification {percent(summary['verification_accuracy'])} "
                 f"(AUC {summary['verification_auc']['mean']:.3f})")
    print(line)
    return 0
