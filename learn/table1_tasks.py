"""The tasks of a Table 1 run: what to compute, what each is called, what it costs, the plan.

A task is one row or baseline sweep point at one evaluation seed (the grain of resuming and of
parallel workers), a tuple:

* ``("row", Row, seed)``: the row evaluated at ``seed``;
* ``("same", Row, source Row, seed)``: a :data:`learn.table1_rows.SAME_ENCODER` row, given the
  source row's result at ``seed``;
* ``("sweep", name, strength, seed)``: the blur (sigma, px) or pixelation (block, px) baseline
  at one strength of the privacy-utility sweep;
* ``("twin", RowResult, seed)``: a cached row whose physical twin is tried again
  (:func:`needs_twin`).
"""
from __future__ import annotations

from typing import Sequence

from learn.table1_results import PHYSICAL_NOT_RUN, RowResult
from learn.table1_rows import BASELINE_STRENGTH, SAME_ENCODER, Profile, Row


def table_tasks(rows: "Sequence[Row]", profile: Profile, seeds: Sequence[int]) -> "list[tuple]":
    """The tasks of a table: ``("row", Row, seed)`` per row and seed (``("same", Row, source
    Row, seed)`` for a :data:`SAME_ENCODER` row whose source is in ``rows``), then ``("sweep",
    name, strength, seed)`` per sweep point (less the rows' own strengths) and seed.

    A task is one evaluation seed: resume and parallel workers work at that grain.
    """
    by_key = {row.key: row for row in rows}
    row_keys = set(by_key)
    sweep_strengths = {"blur": profile.blur_sigmas_px, "pixelate": profile.pixelate_blocks}

    def row_task(row: Row, seed: int) -> tuple:
        source = by_key.get(SAME_ENCODER.get(row.key, ""))
        if source is not None and not row.quantises:
            return ("same", row, source, seed)
        return ("row", row, seed)

    tasks = [row_task(row, int(seed)) for row in rows for seed in seeds]
    tasks += [("sweep", name, strength, int(seed)) for name, strengths in sweep_strengths.items()
              for strength in strengths
              if not (strength == BASELINE_STRENGTH[name] and name in row_keys)
              for seed in seeds]
    return tasks


def task_name(task: tuple) -> str:
    """File-name-safe name of a task: ``row-<key>-seed<s>`` (a ``"same"`` task too: it gives
    that row's result) or ``sweep-<name>-<strength>-seed<s>``."""
    name = f"row-{task[1].key}" if task[0] in ("row", "same") else f"sweep-{task[1]}-{task[2]:g}"
    return f"{name}-seed{task[-1]}"


def _task_cost(task: tuple) -> float:
    """Rough relative cost, to start the longest tasks first (64x64 outputs cost most); a
    ``("twin", RowResult, seed)`` retry is the twin half of its row's task."""
    if task[0] == "twin":
        return _task_cost(("row", task[1].row, task[2])) / 2
    if task[0] == "same":  # encoding the evaluation images a few times, no training
        return 0.0
    if task[0] == "sweep":
        return 3.0 if task[1] == "blur" else 1.0
    row = task[1]
    full_size = row.kind == "baseline" and row.key in ("clean", "blur") or (
        row.camera is not None and not row.camera.get("maxpool"))
    return (3.0 if full_size else 1.0) * (2.0 if row.kind == "learned" else 1.0) * (
        2.0 if row.quantises else 1.0)


def needs_twin(saved) -> bool:
    """True for a cached row result whose physical twin could not be built (the status says
    why) but whose camera was kept: a later run tries the twin again from that camera (the mask
    design may have learned to realise it since), without running the ideal columns again."""
    return (isinstance(saved, RowResult) and saved.physical is None
            and saved.camera is not None and saved.status.startswith(PHYSICAL_NOT_RUN))


def plan_lines(tasks: "Sequence[tuple]", cache: "learn.table1_cache.TaskCache | None",
               workers: int = 1) -> "list[str]":
    """What a run would do: each task, its relative cost and whether ``cache`` holds it.

    The last lines count finished and missing tasks and their relative cost (the units of
    :func:`_task_cost`: 1 is about one 8x8-code row at one seed that does not quantise, so has no
    physical twin; a twin doubles a task, a 64x64 output triples it, learning doubles it) and,
    where finished row tasks recorded their compute time, the seconds per cost unit they took
    and what that predicts for the rest (an estimate: the units are rough), also as wall time
    with ``workers`` processes (each on its own core, as many as tasks left at most).
    """
    lines, done_cost, todo_cost, done, twins = [], 0.0, 0.0, 0, 0
    timed_seconds, timed_cost = 0.0, 0.0
    for task in tasks:
        saved = None if cache is None else cache.load(task)
        cost = _task_cost(task)
        state = "to run" if saved is None else "twin" if needs_twin(saved) else "done"
        if saved is None:
            todo_cost += cost
        elif state == "twin":  # the ideal half is done: the twin is the other half
            todo_cost += _task_cost(("twin", saved, task[-1]))
            twins += 1
        if saved is not None:
            done, done_cost = done + 1, done_cost + cost
            if isinstance(saved, RowResult) and saved.seconds > 0:
                timed_seconds, timed_cost = timed_seconds + saved.seconds, timed_cost + cost
        same = f" (the result of row-{task[2].key}, encoders checked)" if task[0] == "same" else ""
        lines.append(f"{state:6s}  cost {cost:4.1f}  {task_name(task)}{same}")
    twin_note = f", {twins} of them but for the physical twin (tried again)" if twins else ""
    lines.append(f"{done} of {len(tasks)} tasks done (cost {done_cost:g}){twin_note}; "
                 f"{len(tasks) - done} to run (cost {todo_cost:g}"
                 f"{' with the twins' if twins else ''})")
    if timed_cost and todo_cost:
        rate = timed_seconds / timed_cost
        hours = rate * todo_cost / 3600
        parallel = max(1, min(workers, len(tasks) - done + twins))
        lines.append(f"finished rows took {rate:.0f} s per cost unit (compute of one process): "
                     f"about {hours:.1f} process-hours to go"
                     + (f", about {hours / parallel:.1f} h with {parallel} workers"
                        if parallel > 1 else ""))
    return lines
