"""The study engine on a Ray cluster: :class:`RayEngine`, with :class:`LocalEngine`'s ``run``.

Ray (``pip install "canopic[cluster]"``) is imported only when a :class:`RayEngine` is made, so
the local engine, the ``canopic`` command and this module's import need none. How a study runs
on the cluster (docs/cluster.md):

* **Workers**: one Ray actor per task computed at once, holding the resources of one task
  (``cpus_per_task``, ``gpus_per_task``; fractions below 1 let several share a GPU). Each actor
  builds the study's state (``initializer(*initargs)``) once, when it starts, and keeps it for
  every task it is given. Its GPUs are fixed for its life, so a state on the GPU stays on the
  card Ray gave it.
* **Data once**: ``(initializer, initargs)`` go into Ray's object store once per engine
  (``ray.put``); the actors read them from there (numpy arrays without a copy on a node), not
  from the data files.
* **Results as they finish**: tasks go to idle actors in decreasing cost; ``ray.wait`` hands
  each result to ``on_result(index, result)`` in the calling process as it arrives (table1
  saves it there, so results survive whatever happens to the cluster afterwards).
* **Retries**: a task whose actor dies (its node lost, the process killed, out of memory) is
  given to another actor, up to ``retries`` times, and a replacement actor is asked for
  wherever resources free up. A task that raises is not run again (the same seeds give the
  same error); once every other task has finished, :class:`TaskFailures` names each failed
  task with its error. No task is dropped silently.
* **Bad input fails before any task**: Ray missing, an address nobody answers (a TCP check
  first, since ``ray.init`` would wait minutes), a task larger than every node, a run folder
  some node cannot see: one ValueError.
"""
from __future__ import annotations

import collections
import math
import re
import socket
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from learn.engine_state import CallerState

#: Seconds a TCP check of ``address`` may take before the cluster counts as unreachable.
CONNECT_TIMEOUT_S = 5.0


class TaskFailures(RuntimeError):
    """Tasks of a study that failed (raised after every other task has finished).

    ``failures``: ``[(index, name, error)]``, one per failed task, ``error`` one line.
    """

    def __init__(self, failures: "list[tuple[int, str, str]]", total: int):
        self.failures = failures
        listed = "; ".join(f"{name}: {error}" for _, name, error in failures[:10])
        more = f"; and {len(failures) - 10} more" if len(failures) > 10 else ""
        super().__init__(f"{len(failures)} of {total} tasks failed (the others finished): "
                         f"{listed}{more}")


def import_ray():
    """The ``ray`` module, or a ValueError that says how to install it."""
    try:
        import ray
    except ImportError as error:
        raise ValueError(f"engine: 'ray' needs Ray, which is not installed here ({error}); "
                         "install it with: pip install \"canopic[cluster]\"") from None
    return ray


def _one_line(error: BaseException) -> str:
    """``Type: message`` of ``error`` (a Ray task error: of its cause), on one line; a message
    that carries a traceback (an actor whose initializer raised) gives its first line and the
    exception at the end."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = [" ".join(line.split()) for line in
             re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[0] if len(lines) == 1 else f"{lines[0][:160]} ... {lines[-1]}"
    return f"{type(error).__name__}: {text[:400]}"


def _split_address(address: str) -> "tuple[str, int] | None":
    """(host, port) of ``HOST:PORT`` or ``ray://HOST:PORT``; None for ``auto``/``local``."""
    if address in ("auto", "local"):
        return None
    text = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"address: {address!r} is not allowed; need auto, HOST:PORT (the head "
                         "node's GCS port, 6379 by default) or ray://HOST:PORT (Ray Client)")
    return host, int(port)


def check_reachable(address: "str | None", timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """ValueError unless something answers at ``address`` within ``timeout_s`` seconds (a
    TCP connection; ``ray.init`` itself retries an unreachable address for minutes)."""
    target = None if address is None else _split_address(address)
    if target is None:
        return
    try:
        with socket.create_connection(target, timeout=timeout_s):
            pass
    except OSError as error:
        raise ValueError(f"address: no Ray cluster answers at {address!r} ({error}); start one "
                         "with 'ray start --head' or give its head node's HOST:PORT") from None


def resolve_address(address: "str | None") -> "str | None":
    """The ``HOST:PORT`` that ``ray.init(address)`` joins for ``None`` or ``auto`` (Ray's own
    rule: ``RAY_ADDRESS``, else the cluster ``ray start`` started on this node), or None where
    it starts a Ray instance of its own; other addresses as they are. ValueError for ``auto``
    with no cluster to find."""
    if address not in (None, "auto"):
        return address
    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:  # Ray moved it: ray.init resolves the address itself
        return None
    try:
        return canonicalize_bootstrap_address(address)
    except ConnectionError:
        raise ValueError("address: 'auto' finds no Ray cluster on this node; start one with "
                         "'ray start --head', or give its head node's HOST:PORT") from None
    except Exception:  # noqa: BLE001 - anything else: ray.init says it
        return None


class _Worker:
    """One Ray actor of a study: the study's state, built once, and the tasks given to it."""

    def __init__(self, payload: tuple):
        initializer, initargs, threads = payload
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.state = None if initializer is None else initializer(*initargs)

    def ready(self) -> str:
        """The ID of the node this actor runs on, once its state is built."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def run(self, work: Callable[[Any, Any], Any], task: Any) -> Any:
        return work(self.state, task)


def _sees(path: str, token: str) -> bool:
    """Whether ``path`` holds ``token`` on the node this runs on."""
    try:
        return Path(path).read_text() == token
    except OSError:
        return False


class RayEngine(CallerState):
    """Runs a study's tasks on a Ray cluster, with :class:`learn.study_engine.LocalEngine`'s
    interface (:meth:`run`, :meth:`state`, :meth:`in_processes`).

    Parameters
    ----------
    initializer, initargs, threads
        As :class:`learn.study_engine.LocalEngine`: ``initializer(*initargs)`` is the state of
        each worker (a Ray actor); ``threads`` its torch threads (0: Ray's default, the CPUs of
        one task).
    workers : int, optional
        Actors to start (tasks computed at once). None: as many as the cluster's live nodes
        hold at the start, given one task's resources. Actors that do not fit wait for room
        (an autoscaling cluster adds nodes for them) and take tasks once started.
    address : str, optional
        The cluster (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``); None: ``RAY_ADDRESS``, else
        a cluster ``ray start`` started on this machine, else a Ray instance of this machine
        (no dashboard) started here. Ignored when this process is already connected
        (``ray.init`` called before).
    cpus_per_task, gpus_per_task : float
        Resources of one task (one actor): fractions below 1 allowed.
    retries : int
        How often a task lost with its actor is run again.
    shared_folder : str or Path, optional
        The run folder: every live node must see it at the same path (checked with a probe
        file before any task runs).
    start_timeout_s : float
        How long to wait, while no actor is running and none starts, before the tasks left
        count as failed (a cluster with no room for one task).
    """

    def __init__(self, initializer: "Callable[..., Any] | None" = None, initargs: tuple = (),
                 threads: int = 0, workers: "int | None" = None, address: "str | None" = None,
                 cpus_per_task: float = 1.0, gpus_per_task: float = 0.0, retries: int = 3,
                 shared_folder=None, start_timeout_s: float = 600.0):
        self._ray = import_ray()
        if address is not None:
            _split_address(address)  # a malformed address fails here, before anything runs
        self.initializer, self.initargs, self.threads = initializer, tuple(initargs), threads
        self.workers, self.address, self.retries = workers, address, retries
        self.cpus_per_task, self.gpus_per_task = float(cpus_per_task), float(gpus_per_task)
        self.shared_folder = None if shared_folder is None else Path(shared_folder).resolve()
        self.start_timeout_s = start_timeout_s
        self._local: list = []
        self._checked = False
        self._payload = None            # ObjectRef of (initializer, initargs, threads)
        self._actor_class = None
        self._idle: list = []           # actors started and free
        self._starting: dict = {}       # ready() ObjectRef -> actor not yet started
        self._started = 0               # actors ever asked for
        self.start_errors: "list[str]" = []   # actors that could not start, one line each
        self.started_on: "list[str]" = []     # the node (ID) of each actor that started
        self.lost: "list[str]" = []           # a task's name each time its worker was lost

    # -- the interface every engine offers ------------------------------------------------
    def in_processes(self, count: int) -> bool:
        """Always True: tasks run in Ray actors, so everything given must pickle."""
        return count > 0

    def run(self, tasks: Sequence[Any], work: Callable[[Any, Any], Any],
            on_result: Callable[[int, Any], None],
            cost: "Optional[Callable[[Any], float]]" = None,
            names: "Optional[Sequence[str]]" = None) -> None:
        """Compute ``work(state, task)`` for every task on the cluster; call
        ``on_result(index, result)`` here as each finishes (in the order they finish).

        Tasks go out in decreasing ``cost``. A task lost with its actor is run again (up to
        ``retries`` times); one that raises is not. After every other task has finished,
        :class:`TaskFailures` names each failed task (``names[index]``, else ``#index``) with
        its error. An exception of ``on_result`` stops the run at once.
        """
        tasks = list(tasks)
        if not tasks:
            return
        ray = self.connect()
        label = (lambda i: str(names[i])) if names is not None else (lambda i: f"#{i}")
        order = list(range(len(tasks)))
        if cost is not None:
            order.sort(key=lambda index: -cost(tasks[index]))
        queue = collections.deque(order)
        lost = [0] * len(tasks)
        failures: "list[tuple[int, str, str]]" = []
        self._grow(min(len(tasks), self._pool_size()) - self._alive())
        running: dict = {}                                   # ObjectRef -> (actor, index)
        waiting_since = time.monotonic()
        try:
            while queue or running:
                while queue and self._idle:
                    actor, index = self._idle.pop(), queue.popleft()
                    running[actor.run.remote(work, tasks[index])] = (actor, index)
                pending = list(running) + list(self._starting)
                if not pending:      # no actor left, none starting: nothing can run the rest
                    why = self.start_errors[-1] if self.start_errors else "no actor left"
                    failures += [(i, label(i), f"no Ray worker could run it ({why})")
                                 for i in queue]
                    break
                timeout = None if running else max(
                    0.0, self.start_timeout_s - (time.monotonic() - waiting_since))
                done, _ = ray.wait(pending, num_returns=1, timeout=timeout)
                if not done:         # only actors waiting for room, for start_timeout_s
                    failures += [(i, label(i), f"no Ray worker started within "
                                               f"{self.start_timeout_s:g} s (each needs "
                                               f"{self._resources_text()})") for i in queue]
                    break
                ref = done[0]
                if ref in self._starting:
                    self._started_or_not(ref)
                    waiting_since = time.monotonic()
                    continue
                actor, index = running.pop(ref)
                if not running:
                    waiting_since = time.monotonic()
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayActorError as error:     # the actor (or node) died
                    lost[index] += 1
                    self.lost.append(label(index))
                    if lost[index] > self.retries:
                        failures.append((index, label(index), f"lost {lost[index]} times with "
                                                              f"its worker: {_one_line(error)}"))
                    else:
                        queue.appendleft(index)
                    self._grow(1)                                 # a replacement, where room is
                    continue
                except ray.exceptions.RayTaskError as error:      # the task raised
                    self._idle.append(actor)
                    failures.append((index, label(index), _one_line(error)))
                    continue
                except ray.exceptions.RayError as error:          # its result lost, etc.
                    lost[index] += 1
                    self.lost.append(label(index))
                    if lost[index] > self.retries:
                        failures.append((index, label(index), _one_line(error)))
                    else:
                        queue.appendleft(index)
                    self._idle.append(actor)
                    continue
                self._idle.append(actor)
                on_result(index, result)
        except BaseException:
            for ref in running:
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - best effort; the actors go with close()
                    pass
            self.close()
            raise
        if failures:
            failures.sort()
            raise TaskFailures(failures, len(tasks))

    def close(self) -> None:
        """End this engine's actors (they end with this process anyway); keep Ray connected."""
        ray = self._ray
        for actor in self._idle + list(self._starting.values()):
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._idle, self._starting = [], {}

    def __enter__(self) -> "RayEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the cluster ----------------------------------------------------------------------
    def connect(self):
        """Connect to the cluster (unless this process already is), then check, once, that
        one task fits on some live node and that every node sees ``shared_folder``. Returns
        the ``ray`` module; a ValueError on any of these."""
        ray = self._ray
        if not ray.is_initialized():
            # an address nobody answers (given, in RAY_ADDRESS, or a cluster of this node that
            # has died) fails here in seconds: ray.init would retry it for minutes
            resolved = resolve_address(self.address)
            if resolved is not None:
                try:
                    check_reachable(resolved)
                except ValueError:
                    if resolved == self.address:
                        raise
                    raise ValueError(f"address: {self.address or 'none given'} means the Ray "
                                     f"cluster at {resolved!r} (RAY_ADDRESS, or the last one "
                                     "'ray start' started here), which does not answer; start "
                                     "it again, or clear it ('ray stop'; unset RAY_ADDRESS)"
                                     ) from None
            import logging

            options = dict(logging_level=logging.WARNING)
            if self.address in (None, "local"):  # (ignored where it joins a cluster)
                options["include_dashboard"] = False
            try:
                ray.init(address=self.address, **options)
            except Exception as error:  # noqa: BLE001 - ConnectionError, RuntimeError, ...
                where = "a Ray instance on this machine" if self.address in (None, "local") else \
                    f"the Ray cluster at {self.address!r}"
                raise ValueError(f"address: could not connect to {where}: "
                                 f"{_one_line(error)}") from None
        if not self._checked:
            self._check_resources(self.nodes())
            if self.shared_folder is not None:
                self._check_folder()
            self._checked = True
        return ray

    def nodes(self) -> "list[dict]":
        """The cluster's live nodes (``ray.nodes()`` entries)."""
        return [node for node in self._ray.nodes() if node.get("Alive")]

    def _resources_text(self) -> str:
        gpus = f" and {self.gpus_per_task:g} GPU" if self.gpus_per_task else ""
        return f"{self.cpus_per_task:g} CPU{gpus}"

    def _slots(self, node: dict) -> int:
        """Tasks that ``node`` holds at once, given one task's resources."""
        have = node.get("Resources", {})
        slots = math.floor(have.get("CPU", 0.0) / self.cpus_per_task + 1e-9)
        if self.gpus_per_task:
            slots = min(slots, math.floor(have.get("GPU", 0.0) / self.gpus_per_task + 1e-9))
        return slots

    def _check_resources(self, nodes: "list[dict]") -> None:
        """ValueError unless some live node holds one task (CPUs and GPUs)."""
        if any(self._slots(node) for node in nodes):
            return
        most = lambda key: max((n.get("Resources", {}).get(key, 0.0) for n in nodes), default=0)
        if self.gpus_per_task > most("GPU"):
            name, value, key = "gpus_per_task", self.gpus_per_task, "GPU"
        else:
            name, value, key = "cpus_per_task", self.cpus_per_task, "CPU"
        raise ValueError(f"{name}: {value:g} is more than any node of the Ray cluster has "
                         f"(at most {most(key):g} {key} on one of its {len(nodes)} live nodes); "
                         "ask for less per task, or add a node that has it")

    def _check_folder(self) -> None:
        """ValueError unless every live node reads a probe file written to ``shared_folder``."""
        ray = self._ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        folder = self.shared_folder
        made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
        folder.mkdir(parents=True, exist_ok=True)
        token = uuid.uuid4().hex
        probe = folder / f".canopic-probe-{token}"
        probe.write_text(token)
        try:
            reader = ray.remote(num_cpus=0, max_retries=0)(_sees)
            asks = {reader.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
                node["NodeID"], soft=False)).remote(str(probe), token): node
                    for node in self.nodes()}
            done, late = ray.wait(list(asks), num_returns=len(asks), timeout=60)
            blind = [asks[ref] for ref in done if not _get_or_false(ray, ref)] + \
                [asks[ref] for ref in late]
        finally:
            probe.unlink(missing_ok=True)
            for parent in made:  # leave no folder this check made
                try:
                    parent.rmdir()
                except OSError:
                    break
        if blind:
            where = ", ".join(sorted({node.get("NodeManagerAddress", "?") for node in blind}))
            raise ValueError(f"run folder: {str(folder)!r} is not visible from Ray node(s) "
                             f"{where}; put it on a file system every node mounts at the same "
                             "path (docs/cluster.md, 'The run folder')")

    # -- the actors -----------------------------------------------------------------------
    def _pool_size(self) -> int:
        if self.workers:
            return self.workers
        return max(1, sum(self._slots(node) for node in self.nodes()))

    def _alive(self) -> int:
        return len(self._idle) + len(self._starting)

    def _grow(self, count: int) -> None:
        """Ask for ``count`` more actors (each builds its state; :meth:`run` waits for them)."""
        ray = self._ray
        if count <= 0:
            return
        if self._payload is None:
            self._payload = ray.put((self.initializer, self.initargs, self.threads))
            self._actor_class = ray.remote(_Worker)
        for _ in range(count):
            actor = self._actor_class.options(
                num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task, max_restarts=0,
                max_concurrency=1).remote(self._payload)
            self._starting[actor.ready.remote()] = actor
            self._started += 1

    def _started_or_not(self, ref) -> None:
        actor = self._starting.pop(ref)
        try:
            self.started_on.append(self._ray.get(ref))
        except self._ray.exceptions.RayError as error:
            self.start_errors.append(_one_line(error))
        else:
            self._idle.append(actor)


def _get_or_false(ray, ref) -> bool:
    try:
        return bool(ray.get(ref))
    except Exception:  # noqa: BLE001 - the node could not run the probe: it does not see it
        return False


__all__ = ["CONNECT_TIMEOUT_S", "RayEngine", "TaskFailures", "check_reachable", "import_ray",
           "resolve_address"]
