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
machine. Another back-end (a cluster) offers the same :meth:`LocalEngine.run`. With worker
processes, ``initializer``, ``initargs``, ``work``, the tasks and their results must pickle
(module-level functions, plain data): they travel between processes, never through files.
"""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

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


class LocalEngine:
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

    def state(self) -> Any:
        """This process's state: ``initializer(*initargs)``, built when first asked, then kept
        (for the tasks :meth:`run` computes here and for any the caller computes itself)."""
        if not self._local:
            self._local.append(None if self.initializer is None
                               else self.initializer(*self.initargs))
        return self._local[0]

    def run(self, tasks: Sequence[Any], work: Callable[[Any, Any], Any],
            on_result: Callable[[int, Any], None],
            cost: "Optional[Callable[[Any], float]]" = None) -> None:
        """Compute ``work(state, task)`` for every task; call ``on_result(index, result)`` here
        as each finishes.

        Unless :meth:`in_processes`, the tasks run in this process, in the given order, with
        :meth:`state`. Otherwise ``min(workers, len(tasks))`` spawned processes each build their
        own state once and take tasks in decreasing ``cost`` (relative units; the given order
        among equals, and without ``cost``); results arrive as tasks finish. An exception in a
        task is raised here.
        """
        tasks = list(tasks)
        if not self.in_processes(len(tasks)):
            for index, task in enumerate(tasks):
                on_result(index, work(self.state(), task))
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
                on_result(futures[future], future.result())


__all__ = ["LocalEngine"]
