"""Running Table 1: every row and baseline sweep point evaluated, one task per seed, then merged.

:func:`run_table1` builds the tasks (``learn.table1_tasks``), reuses the finished ones of a
``learn.table1_cache.TaskCache``, computes the rest with an engine of ``learn.study_engine``
(local processes or Ray actors, each holding one :class:`_Evaluator`; each result saved here,
in the calling process, as it arrives) and merges each row's seeds into a
``learn.table1_results.RowResult`` and each sweep point's into an ``EvaluationResult``.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import time
from typing import Callable, Sequence

import torch

from learn.attacks import ATTACK_NAMES
from learn.evaluation import (EvaluationResult, data_from_splits, evaluate_encoder,
                              merge_seeds, same_outputs)
from learn.study_engine import EngineSpec
from learn.table1_cache import TaskCache
from learn.table1_cameras import baseline_encoder, camera_encoder, camera_seed, row_camera
from learn.table1_results import PHYSICAL_NOT_RUN, RowResult, merge_row_seeds
from learn.table1_rows import BASELINE_STRENGTH, QUICK, ROWS, Profile, Row
from learn.table1_tasks import _task_cost, needs_twin, table_tasks, task_name
from learn.encoder_faces import with_encoder_faces
from learn.lfw import identity_roles, load_lfw
from learn.verification import VerificationData, evaluate_verification, verification_data


class _Evaluator:
    """Everything one process needs to evaluate tasks: splits, data, caches and settings."""

    def __init__(self, splits, profile: Profile, attacks: Sequence[str], device="cpu",
                 recognisers=None, progress: bool = True):
        self.splits, self.profile, self.attacks = splits, profile, attacks
        self.progress = progress  # the per-task bars (evaluation, learning)
        self.device = torch.device(device)
        self.data = data_from_splits(splits, profile.max_per_part).to(self.device)
        # clean recognisers of the reconstruction attack, per seed (a RecogniserStore: on disk)
        self.recognisers = {} if recognisers is None else recognisers
        self.learned: dict = {}       # learned cameras, per (row key, seed)
        self.twins: dict = {}         # physical twins (masks designed once), per (row key, seed)
        self.verification_sets: dict = {}  # the verification protocol's data, per seed

    def evaluate(self, encoder, seed: int, desc: str, verify: bool = True) -> EvaluationResult:
        """Identification and utility of ``encoder`` at ``seed``, and LFW verification where
        the profile asks for it and ``verify``."""
        result = evaluate_encoder(encoder, self.data, seeds=(seed,), attacks=self.attacks,
                                  budget=self.profile.budget, n_augment=self.profile.n_augment,
                                  desc=f"{desc} seed {seed}", recognisers=self.recognisers,
                                  progress=self.progress)
        if verify and self.profile.verification is not None:
            result.verification = evaluate_verification(
                encoder, self.verification_data(seed), seeds=(seed,),
                attacks=self.profile.verification["attacks"], budget=self.profile.budget,
                progress=self.progress)
        return result

    @functools.cached_property
    def encoder_splits(self):
        """The splits the learned rows learn from: ``splits`` with the profile's encoder faces
        (``learn.encoder_faces``; read on first use, so tables without learned rows never
        load LFW for it)."""
        return with_encoder_faces(self.splits, self.profile.encoder_faces)

    def verification_data(self, seed: int) -> VerificationData:
        """The verification protocol's data of ``seed`` (built once per process and seed)."""
        if seed not in self.verification_sets:
            settings = {k: v for k, v in self.profile.verification.items() if k != "attacks"}
            lfw = load_lfw()
            # role T leaves out every person of this table's face set (encoder and evaluation
            # identities), whatever --faces gave: names are LFW's for the bundled sets
            roles = identity_roles(lfw, identification=self.splits.eval_identities,
                                   excluded=self.splits.encoder_identities
                                   + self.splits.eval_identities)
            self.verification_sets[seed] = verification_data(
                lfw, roles, seed=seed, **settings).to(self.device)
        return self.verification_sets[seed]

    def encoder(self, row: Row, seed: int) -> "tuple[Callable, torch.nn.Module | None]":
        """(encoder, camera) of ``row`` at evaluation seed ``seed``; camera None for a
        baseline."""
        if row.kind == "baseline":
            return baseline_encoder(row.key, BASELINE_STRENGTH.get(row.key, 0)), None
        camera = self.camera(row, seed)
        return camera_encoder(camera), camera

    def row(self, row: Row, seed: int) -> RowResult:
        """Row ``row`` at evaluation seed ``seed`` (and its physical twin where it quantises)."""
        start = time.perf_counter()
        try:
            encoder, camera = self.encoder(row, seed)
            item = RowResult(row, "ok", self.evaluate(encoder, seed, row.key), camera=camera)
            if camera is not None and self.profile.physical and row.quantises:
                self._add_twin(item, seed)
        except ImportError as error:  # a package another engineer has not delivered yet
            item = RowResult(row, f"not run: {error}")
        return self._finish(item, start)

    def same_as(self, row: Row, source: Row, source_result: RowResult, seed: int) -> RowResult:
        """Row ``row`` at ``seed`` given its :data:`SAME_ENCODER` source's result there: that
        result under ``row`` (with ``row``'s own camera) if :func:`same_outputs` finds the two
        encoders agree, else ``row`` evaluated itself (:meth:`row`)."""
        start = time.perf_counter()
        encoder, camera = self.encoder(row, seed)
        if source_result.result is None or not same_outputs(
                encoder, self.encoder(source, seed)[0], self.data, self.profile.n_augment, seed):
            return self.row(row, seed)
        item = RowResult(row, source_result.status, source_result.result, camera=camera)
        return self._finish(item, start)

    @staticmethod
    def _finish(item: RowResult, start: float) -> RowResult:
        if item.camera is not None:  # results are kept (and saved) on the CPU
            item.camera = copy.deepcopy(item.camera).cpu()  # the cached camera stays on device
        item.seconds = time.perf_counter() - start
        return item

    def camera(self, row: Row, seed: int, physical: bool = False) -> torch.nn.Module:
        """The camera of CAnOPIC row ``row`` at evaluation seed ``seed`` (:func:`camera_seed`),
        or its physical twin; twins are kept, so a row's shared camera gets its masks designed
        once per process, not once per seed."""
        key = (row.key, camera_seed(row, seed))
        if physical and key in self.twins:
            return self.twins[key]
        camera = row_camera(row, self.encoder_splits, self.profile, physical, self.learned,
                            seed=key[1], device=self.device, progress=self.progress)
        if physical:
            self.twins[key] = camera
        return camera

    def _add_twin(self, item: RowResult, seed: int) -> None:
        """Evaluate ``item``'s physical twin into ``item.physical`` (status "ok"), or say in its
        status why the twin could not be built."""
        try:
            twin = self.camera(item.row, seed, physical=True)
        except ValueError as error:  # e.g. masks that do not realise the kernel
            item.status = f"{PHYSICAL_NOT_RUN}: {error}"
        else:
            item.physical = self.evaluate(camera_encoder(twin), seed, f"{item.row.key} physical",
                                          verify=False)
            item.status = "ok"

    def retry_twin(self, item: RowResult, seed: int) -> RowResult:
        """``item`` (a cached row at ``seed`` whose physical twin could not be built, see
        :func:`needs_twin`) with its twin built from its own camera (a learned row is not
        learned again) and evaluated; the status stays "physical not run" if it fails again."""
        start = time.perf_counter()
        item = dataclasses.replace(item)
        if item.row.kind == "learned":
            self.learned[item.row.key, camera_seed(item.row, seed)] = \
                copy.deepcopy(item.camera).to(self.device)
        self._add_twin(item, seed)
        item.seconds += time.perf_counter() - start
        return item

    def sweep_point(self, name: str, strength: float, seed: int) -> EvaluationResult:
        return self.evaluate(baseline_encoder(name, strength), seed, f"{name} {strength:g}")

    def run(self, task: tuple, source_result: "RowResult | None" = None):
        """``("row", Row, seed)`` -> RowResult; ``("sweep", name, strength, seed)`` ->
        EvaluationResult (one evaluation seed each); ``("twin", RowResult, seed)`` -> the
        RowResult with its physical twin (:meth:`retry_twin`); ``("same", Row, source Row,
        seed)`` with the source's ``source_result`` at that seed -> RowResult (:meth:`same_as`)."""
        if task[0] == "twin":
            return self.retry_twin(*task[1:])
        if task[0] == "same":
            return self.same_as(task[1], task[2], source_result, task[3])
        return self.row(*task[1:]) if task[0] == "row" else self.sweep_point(*task[1:])


def _start_evaluator(splits, profile: Profile, attacks: Sequence[str], device: str,
                     recognisers, progress: bool) -> _Evaluator:
    """The evaluator of one process (the engine's initializer): ``splits`` itself, or the
    splits a callable ``splits`` loads (each worker process loads its own copy)."""
    return _Evaluator(splits() if callable(splits) else splits, profile, attacks, device,
                      recognisers, progress)


def _run_task(evaluator: _Evaluator, task: tuple):
    """The engine's work: ``task`` computed by this process's evaluator."""
    return evaluator.run(task)


def _run_same(evaluator: _Evaluator, task_and_source: tuple):
    """The engine's work for a ``"same"`` task given with its source row's result."""
    return evaluator.run(*task_and_source)


def _reuse(tasks: "list[tuple]", cache: "TaskCache | None") -> "tuple[dict, dict]":
    """(outputs, work): the cached results of ``tasks`` by index, and what to run for the rest
    by index: the task, or ``("twin", cached RowResult, seed)`` (:func:`needs_twin`)."""
    outputs: dict = {}
    work: dict = {}
    if cache is not None:
        for index, task in enumerate(tasks):
            saved = cache.load(task)
            if needs_twin(saved):
                work[index] = ("twin", saved, task[-1])
            elif saved is not None:
                outputs[index] = saved
    work.update({i: task for i, task in enumerate(tasks) if i not in outputs and i not in work})
    return outputs, work


def _merge(tasks: "list[tuple]", outputs: dict, rows: "Sequence[Row]", profile: Profile
           ) -> "tuple[list[RowResult], dict]":
    """:func:`run_table1`'s (results, sweeps) from every task's output (by index): each row's
    and each sweep point's seeds merged, the rows' own baseline strengths added to the sweeps."""
    row_keys = {row.key for row in rows}
    sweep_strengths = {"blur": profile.blur_sigmas_px, "pixelate": profile.pixelate_blocks}
    per_seed: dict = {}  # (kind, row key or sweep name, strength) -> outputs, in seed order
    for i, task in enumerate(tasks):
        group = ("row", task[1].key, None) if task[0] in ("row", "same") else task[:-1]
        per_seed.setdefault(group, []).append(outputs[i])
    results = [merge_row_seeds(items) for group, items in per_seed.items() if group[0] == "row"]
    by_key = {item.row.key: item.result for item in results}
    sweeps: dict = {"blur": [], "pixelate": []}
    for (kind, name, strength), items in per_seed.items():
        if kind == "sweep":
            sweeps[name].append((strength, merge_seeds(items)))
    for name in sweeps:
        if BASELINE_STRENGTH[name] in sweep_strengths[name] and name in row_keys:
            sweeps[name].append((BASELINE_STRENGTH[name], by_key[name]))
        sweeps[name].sort(key=lambda point: point[0])
    return results, sweeps


def run_table1(splits, profile: Profile = QUICK, seeds: Sequence[int] = (0, 1, 2),
               attacks: Sequence[str] = ATTACK_NAMES, rows: "Sequence[Row] | None" = None,
               progress: bool = True, workers: int = 1, threads: int = 1,
               cache: "TaskCache | None" = None, device="cpu",
               engine: "EngineSpec | str | None" = None) -> "tuple[list[RowResult], dict]":
    """Evaluate every row (and the baseline sweeps) on ``splits``.

    Parameters
    ----------
    splits : learn.datasets.Splits or callable
        Encoder identities learn the cameras; evaluation identities score them. With
        ``workers > 1`` pass a picklable zero-argument callable that returns the splits (for
        example ``functools.partial(learn.datasets.default_splits, 0)``): each worker process
        loads its own copy.
    profile : Profile
        :data:`QUICK` or :data:`FULL` (or your own).
    seeds : sequence of int
        Evaluation seeds (a learned row trains one camera per seed).
    attacks : sequence of str
        The attack suite.
    rows : sequence of Row, optional
        Defaults to :data:`ROWS`.
    progress : bool
        Show progress bars: over the tasks (a row or sweep point at one seed), and within each
        task over its attacks and alternations. False: none at all, in the workers too.
    workers : int
        Processes evaluating tasks in parallel (1: this process; a
        ``learn.study_engine.LocalEngine`` runs them, longest first). Without a ``cache`` each
        worker trains its own clean recognisers for the reconstruction attack; with one they
        are shared through its folder once written (workers starting together may each train
        the same seed's once).
    threads : int
        torch threads per worker process or Ray actor (0: torch's default; on Ray, the CPUs of
        one task); ignored by the local engine when ``workers == 1``.
    cache : TaskCache, optional
        Finished tasks are saved there and reused (resume after an interruption), and so are
        the reconstruction attack's clean recognisers (:meth:`TaskCache.recogniser_store`). A
        cached row whose physical twin could not be built (:func:`needs_twin`) gets its twin
        tried again from its cached camera.
    device : str or torch.device
        Where encoders, attackers and learned rows compute ("cpu", "cuda", "cuda:N"). Results
        match the CPU's within the spread over seeds, not bit for bit (the per-frame noise of
        cameras is drawn on the device). Local workers share the device; on Ray, "cuda" is the
        GPU (share) Ray gives each worker (``gpus_per_task``).
    engine : EngineSpec or str, optional
        Which engine computes the tasks (``learn.study_engine.EngineSpec``; a string is its
        kind): None or "local": ``workers`` local processes; "ray": Ray actors on a cluster
        (``splits`` may then be the splits themselves: they go into Ray's object store once,
        and every actor reads them from there; the per-task progress bars are off). The same
        seeds give bit-identical results on any engine.

    Returns
    -------
    results : list of RowResult
        In the order of ``rows``.
    sweeps : dict
        ``{"blur": [(sigma_px, EvaluationResult)], "pixelate": [(block_px, EvaluationResult)]}``.
    """
    from tqdm.auto import tqdm

    rows = ROWS if rows is None else tuple(rows)
    recognisers = None if cache is None else cache.recogniser_store()
    spec = engine if isinstance(engine, EngineSpec) else EngineSpec(engine or "local")
    if spec.kind == "local" and spec.workers is None:
        spec = dataclasses.replace(spec, workers=workers)
    engine = spec.make(_start_evaluator, (splits, profile, tuple(attacks), str(device), recognisers,
                                          progress and spec.kind == "local"), threads=threads)
    tasks = table_tasks(rows, profile, [int(seed) for seed in seeds])
    outputs, work = _reuse(tasks, cache)
    # "same" tasks need their source row's result: they run here, after everything else
    same = [i for i in sorted(work) if work[i][0] == "same"]
    todo = [i for i in sorted(work) if work[i][0] != "same"]
    if spec.kind == "local" and engine.in_processes(len(todo)) and not callable(splits):
        raise ValueError("splits: with workers > 1 pass a picklable callable that "
                         "returns the splits (each worker loads its own)")

    def finished(index: int, result) -> None:
        outputs[index] = result
        if cache is not None:
            cache.save(tasks[index], result)
        bar.update()

    try:
        with tqdm(total=len(tasks), initial=len(tasks) - len(work), desc="table1",
                  disable=not progress) as bar:
            engine.run([work[i] for i in todo], _run_task,
                       lambda k, result: finished(todo[k], result),
                       cost=_task_cost, names=[task_name(tasks[i]) for i in todo])
            sources = [outputs[tasks.index(("row", work[i][2], work[i][3]))] for i in same]
            if spec.kind == "local":
                for index, source_result in zip(same, sources):
                    finished(index, engine.state().run(work[index], source_result))
            else:  # on the cluster's workers, which hold the state (and the GPUs)
                engine.run([(work[i], source) for i, source in zip(same, sources)], _run_same,
                           lambda k, result: finished(same[k], result),
                           names=[task_name(tasks[i]) for i in same])
    finally:  # the engine's workers (Ray actors) go, whatever happened
        engine.close()
    return _merge(tasks, outputs, rows, profile)
