"""The flags every study command shares to say where its tasks run (docs/cluster.md).

- ``--engine local|ray``: this machine's process pool (the default), or a Ray cluster.
- ``--address ADDR``: the Ray cluster to join (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``);
  none: Ray's rule (``RAY_ADDRESS``, else a cluster ``ray start`` started on this machine, else
  a Ray instance of this machine, started for the study).
- ``--cpus-per-task N``, ``--gpus-per-task N``: what one task holds on the cluster (fractions
  below 1 allowed: ``--gpus-per-task 0.25`` puts four tasks on a card).
- ``--retries N``: how often a task lost with its node is run again.

A study command adds them with :func:`add_engine_flags` (beside its own ``--workers``) and turns
the parsed flags into a ``learn.study_engine.EngineSpec`` with :func:`engine_spec`, which also
checks, before any data is read or any file written, everything that would stop the study later
(Ray missing, an address nobody answers, a task larger than every node, a run folder the nodes
cannot see): one ``ValueError`` naming the flag.
"""
from __future__ import annotations

import argparse

#: Engine parameters (``learn.study_engine.EngineSpec``) and the flags that set them.
FLAGS = {"engine": "--engine", "address": "--address", "cpus_per_task": "--cpus-per-task",
         "gpus_per_task": "--gpus-per-task", "retries": "--retries", "workers": "--workers"}


def add_engine_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``--engine``, ``--address``, ``--cpus-per-task``, ``--gpus-per-task`` and
    ``--retries`` to a study command's ``parser``."""
    group = parser.add_argument_group(
        "where the tasks run (docs/cluster.md)",
        "each task is one independent, seeded piece of the study; the same seeds give the "
        "same numbers on any engine")
    group.add_argument("--engine", choices=("local", "ray"), default="local",
                       help="local: processes of this machine (--workers); ray: a Ray cluster "
                            "(pip install \"canopic[cluster]\")")
    group.add_argument("--address", default=None, metavar="ADDR",
                       help="ray: the cluster to join: auto (started on this node with 'ray "
                            "start'), HOST:PORT of its head node, or ray://HOST:10001; default: "
                            "RAY_ADDRESS, else the cluster 'ray start' started here, else a Ray "
                            "instance of this machine, started for the study (local: always "
                            "that)")
    group.add_argument("--cpus-per-task", type=float, default=None, metavar="N",
                       help="ray: CPUs one task holds (default 1)")
    group.add_argument("--gpus-per-task", type=float, default=None, metavar="N",
                       help="ray: GPUs one task holds; fractions below 1 share a card (0.25: "
                            "four tasks per GPU); default 0")
    group.add_argument("--retries", type=int, default=None, metavar="N",
                       help="ray: how often a task lost with its worker or node is run again "
                            "(default 3); a task that raises is reported, not rerun")


def _flagged(error: ValueError) -> ValueError:
    """``error`` with its leading parameter name replaced by the flag that sets it."""
    text = str(error)
    for name, flag in FLAGS.items():
        if text.startswith(name + ":"):
            return ValueError(flag + text[len(name):])
    return error


def engine_spec(args: argparse.Namespace, folder=None, check: bool = True):
    """The ``learn.study_engine.EngineSpec`` of parsed ``args`` (``--workers`` included where
    the command has it); ``folder``: the run folder, which every Ray node must see.

    With ``check`` (and ``--engine ray``), Ray is imported and connected here and the cluster
    checked (:meth:`EngineSpec.check`), so a bad flag fails in seconds, before any work. Errors
    are ValueErrors that name the flag.
    """
    from learn.study_engine import EngineSpec

    options = {name: getattr(args, name) for name in ("address", "cpus_per_task",
                                                       "gpus_per_task", "retries")
               if getattr(args, name, None) is not None}
    if args.engine == "local" and options:  # given at all, even at the ray default
        raise _flagged(ValueError(f"{sorted(options)[0]}: only the ray engine takes it (engine "
                                  "'local' runs its workers on this machine, sharing its "
                                  "device)"))
    try:
        spec = EngineSpec(args.engine, getattr(args, "workers", None),
                          shared_folder=None if folder is None or args.engine != "ray"
                          else str(folder), **options)
        if check:
            spec.check()
    except ValueError as error:
        raise _flagged(error) from None
    return spec


def engine_device(device: str, spec, resolve) -> str:
    """Where the tasks of ``spec`` compute, from a study command's ``--device``.

    local: ``resolve(device)`` (``learn.runs.resolve_device``: ``auto`` is CUDA when this
    machine has it). ray: each task sees only the GPUs Ray gives it, as ``cuda``; so ``auto``
    is ``cuda`` with ``--gpus-per-task`` and ``cpu`` without, and a CUDA device needs
    ``--gpus-per-task`` (this machine need not have one).
    """
    if spec.kind != "ray":
        return str(resolve(device))
    if device == "auto":
        return "cuda" if spec.gpus_per_task else "cpu"
    if device.startswith("cuda") and not spec.gpus_per_task:
        raise ValueError(f"--device: {device!r} with --engine ray needs --gpus-per-task > 0 "
                         "(the GPU share Ray gives each task)")
    if device.startswith("cuda:") and device != "cuda:0":
        raise ValueError(f"--device: {device!r} is not allowed with --engine ray; each task sees "
                         "only the GPU Ray gives it: use cuda")
    return device


def engine_meta(spec) -> dict:
    """What a results file records of ``spec``."""
    meta = {"engine": spec.kind}
    if spec.kind == "ray":
        meta.update(address=spec.address or "local instance", cpus_per_task=spec.cpus_per_task,
                    gpus_per_task=spec.gpus_per_task, retries=spec.retries)
    return meta


__all__ = ["FLAGS", "add_engine_flags", "engine_device", "engine_meta", "engine_spec"]
