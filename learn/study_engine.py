"""A small engine that runs independent, seeded tasks and hands back each result as it finishes.

A study (Table 1, a sweep) is a list of tasks that do not depend on each other: each result
follows from its task (and the seeds in it) alone, so the tasks may run in any order, in any
process. An engine runs them with two functions of the study:

* ``initializer(*initargs) -> state`` builds what a process needs for every task (data loaded,
  caches, settings), once per process, before its first task;
* ``work(state, task) -> result`` computes one task.

As each task finishes, ``on_result(index, result)`` is called in the calling process
(``index`` into the task list), in the order they finish: save it, update a progress bar.

:class:`LocalEngine` runs the tasks in this process, or in a pool of spawned processes on this
machine (the default; no dependency). ``learn.study_engine_ray.RayEngine`` runs them on a Ray
cluster (``pip install "canopic[cluster]"``; docs/cluster.md) and offers the same
:meth:`LocalEngine.run`. With worker processes, ``initializer``, ``initargs``, ``work``, the
tasks and their results must pickle (module-level functions, plain data): they travel between
processes, never through files.

:class:`EngineSpec` says which engine a study gets and what one task needs (``--engine``,
``--address``, ``--cpus-per-task``, ``--gpus-per-task`` of every study command);
:func:`make_engine` builds one.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Optional, Sequence

from learn.engine_state import CallerState

#: The engines a study may run on.
ENGINES = ("local", "ray")

#: This worker process's state (``initializer(*initargs)``), set once by :func:`_start_worker`.
_STATE: Any = None


def _start_worker(threads: int, initializer: "Callable[..., Any] | None", initargs: tuple
                  ) -> None:
    """Initialise a pool worker: torch threads (0: torch's default), then its state."""
    global _STATE
    if threads:
        import torch

        torch.set_num_threads(threads)
    _STATE = None if initializer is None else initializer(*initargs)


def _run_in_worker(work: Callable[[Any, Any], Any], task: Any) -> Any:
    return work(_STATE, task)


class LocalEngine(CallerState):
    """Runs a study's tasks in this process or in spawned worker processes of this machine.

    Parameters
    ----------
    workers : int
        Processes that compute tasks at once (1: this process, one task after another).
    initializer : callable, optional
        ``initializer(*initargs) -> state`` of every process that computes tasks (None: the
        state is None).
    initargs : tuple
        Its arguments.
    threads : int
        torch threads of each worker process (0: torch's default); this process keeps its own.
    """

    def __init__(self, workers: int = 1, initializer: "Callable[..., Any] | None" = None,
                 initargs: tuple = (), threads: int = 0):
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers: {workers!r} is not allowed; need an integer >= 1")
        self.workers, self.threads = workers, threads
        self.initializer, self.initargs = initializer, tuple(initargs)
        self._local: list = []  # this process's state, once built

    def in_processes(self, count: int) -> bool:
        """True when :meth:`run` computes ``count`` tasks in worker processes (more than one
        worker and more than one task), so everything it is given must pickle."""
        return self.workers > 1 and count > 1

    def run(self, tasks: Sequence[Any], work: Callable[[Any, Any], Any],
            on_result: Callable[[int, Any], None],
            cost: "Optional[Callable[[Any], float]]" = None,
            names: "Optional[Sequence[str]]" = None) -> None:
        """Compute ``work(state, task)`` for every task; call ``on_result(index, result)`` here
        as each finishes.

        Unless :meth:`in_processes`, the tasks run in this process, in the given order, with
        :meth:`state`. Otherwise ``min(workers, len(tasks))`` spawned processes each build their
        own state once and take tasks in decreasing ``cost`` (relative units; the given order
        among equals, and without ``cost``); results arrive as tasks finish. An exception in a
        task is raised here, with a note naming the task (``names[index]``, else its index).
        """
        tasks = list(tasks)
        if not self.in_processes(len(tasks)):
            for index, task in enumerate(tasks):
                try:
                    result = work(self.state(), task)
                except Exception as error:
                    error.add_note(f"in task {_name(names, index)}")
                    raise
                on_result(index, result)
            return
        import concurrent.futures
        import multiprocessing

        order = list(range(len(tasks)))
        if cost is not None:
            order.sort(key=lambda index: -cost(tasks[index]))
        with concurrent.futures.ProcessPoolExecutor(
                min(self.workers, len(tasks)), mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.threads, self.initializer, self.initargs)) as pool:
            futures = {pool.submit(_run_in_worker, work, tasks[index]): index for index in order}
            for future in concurrent.futures.as_completed(futures):
                try:
                    result = future.result()
                except Exception as error:
                    error.add_note(f"in task {_name(names, futures[future])}")
                    raise
                on_result(futures[future], result)

    def close(self) -> None:
        """Nothing to release (the pool of :meth:`run` ends with each call)."""

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _name(names: "Optional[Sequence[str]]", index: int) -> str:
    return str(names[index]) if names is not None else f"#{index}"


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """Which engine runs a study's tasks, and what one task needs (the study commands'
    ``--engine``, ``--workers``, ``--address``, ``--cpus-per-task`` and ``--gpus-per-task``).

    Parameters
    ----------
    kind : str
        ``"local"`` (:class:`LocalEngine`, the default) or ``"ray"``
        (``learn.study_engine_ray.RayEngine``).
    workers : int, optional
        local: processes (default 1). ray: tasks computed at once, one Ray actor each (default:
        as many as the cluster's nodes hold at the start, given the resources of one task).
    address : str, optional
        ray only: the cluster to join (``auto``: the one started on this node with ``ray
        start``; ``HOST:PORT``: its head node; ``ray://HOST:10001``: Ray Client). None: Ray's
        rule (``RAY_ADDRESS``, else a cluster ``ray start`` started on this machine, else a Ray
        instance of this machine started for the study).
    cpus_per_task, gpus_per_task : float
        ray only: the CPUs and GPUs one task holds (fractions below 1 allowed, e.g. 0.25 GPU
        for four tasks per card; above 1, whole numbers).
    retries : int
        ray only: how often a task lost with its worker or node is run again before it counts
        as failed.
    shared_folder : str, optional
        ray only: the run folder, which every node of the cluster must see at the same path
        (checked before any task is submitted).
    """

    kind: str = "local"
    workers: Optional[int] = None
    address: Optional[str] = None
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    retries: int = 3
    shared_folder: Optional[str] = None

    def __post_init__(self):
        if self.kind not in ENGINES:
            raise ValueError(f"engine: {self.kind!r} is not allowed; choose from {list(ENGINES)}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(
                self.workers, int) or self.workers < 1):
            raise ValueError(f"workers: {self.workers!r} is not allowed; need an integer >= 1")
        for name, low in (("cpus_per_task", 0.0), ("gpus_per_task", None)):
            value = getattr(self, name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = math.nan
            if isinstance(value, bool) or not math.isfinite(number) or (
                    number <= low if low is not None else number < 0) or (
                    number > 1 and number != int(number)):
                need = "> 0" if low is not None else ">= 0"
                raise ValueError(f"{name}: {value!r} is not allowed; need a number {need}: a "
                                 "fraction below 1 or a whole number")
            object.__setattr__(self, name, number)
        if not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError(f"retries: {self.retries!r} is not allowed; need an integer >= 0")
        if self.kind == "local":  # (a shared folder is trivially seen by this machine's workers)
            given = [name for name, default in (("address", None), ("cpus_per_task", 1.0),
                                                ("gpus_per_task", 0.0))
                     if getattr(self, name) != default]
            if given:
                raise ValueError(f"{given[0]}: only the ray engine takes it (engine 'local' runs "
                                 "its workers on this machine, sharing its device)")

    def make(self, initializer: "Callable[..., Any] | None" = None, initargs: tuple = (),
             threads: int = 0):
        """The engine: a :class:`LocalEngine` or a ``learn.study_engine_ray.RayEngine`` (Ray
        imported here, on first use; a ValueError if it is not installed)."""
        if self.kind == "local":
            return LocalEngine(self.workers or 1, initializer, initargs, threads)
        from learn.study_engine_ray import RayEngine

        return RayEngine(initializer, initargs, threads, workers=self.workers,
                         address=self.address, cpus_per_task=self.cpus_per_task,
                         gpus_per_task=self.gpus_per_task, retries=self.retries,
                         shared_folder=self.shared_folder)

    def check(self) -> None:
        """Fail now, in one ValueError, on what would stop the study later: Ray missing, a
        cluster that cannot be reached, a task larger than every node, a run folder the
        nodes cannot see (ray; nothing to check for local). Leaves Ray connected."""
        if self.kind == "ray":
            self.make().connect()


def make_engine(kind: str = "local", workers: "int | None" = None,
                initializer: "Callable[..., Any] | None" = None, initargs: tuple = (),
                threads: int = 0, **options):
    """An engine of ``kind`` (:class:`EngineSpec`'s ``options``: ``address``,
    ``cpus_per_task``, ``gpus_per_task``, ``retries``, ``shared_folder``) computing tasks with
    ``initializer(*initargs)``'s state.

    >>> engine = make_engine("local", workers=1, initializer=dict, initargs=((("n", 2),),))
    >>> seen = []
    >>> engine.run([1, 2, 3], lambda state, x: x * state["n"], lambda i, r: seen.append((i, r)))
    >>> seen
    [(0, 2), (1, 4), (2, 6)]
    """
    return EngineSpec(kind, workers, **options).make(initializer, initargs, threads)


__all__ = ["ENGINES", "EngineSpec", "LocalEngine", "make_engine"]
