"""The paper's Table 1 on the bundled data: every configuration, evaluated by one protocol.

Rows (:data:`ROWS`): clean, Gaussian blur, pixelation; each CAnOPIC configuration unlearned
(initial kernels, uniform thresholds k + 0.5) and learned for the paper's alpha values. A learned
configuration appears twice where the paper published its encoder: ``learned`` (trained here by
``learn.alternating`` on the encoder identities) and ``published`` (the authors' parameters,
``data/reference_encoders``). A learned row trains one camera per evaluation seed (seed s learns
with seed s), so its spread over seeds includes the spread of the optimisation itself. Encoders
that quantise are also evaluated through the *physical* camera (:data:`PHYSICAL_CAMERA`: sensor
noise at a stated illumination, comparator offsets, ADC mismatch) beside their ideal numbers.

Every encoder runs in ``mode="hard"`` (the hardware quantiser) and is scored by
:func:`learn.evaluation.evaluate_encoder` on identities it never saw.

This module gathers the names of the modules that do the work, one job each:

- ``learn.table1_rows``: the row catalogue, the profiles, the physical camera's settings;
- ``learn.table1_cameras``: the encoders and cameras of the rows (learning, physical twins);
- ``learn.table1_tasks``: the tasks of a run (one row or sweep point at one seed), their names,
  costs and the plan;
- ``learn.table1_cache``: finished tasks on disk (:class:`TaskCache`, no pickle), through
  ``learn.table1_records`` (results as plain data);
- ``learn.table1_run``: :func:`run_table1` (tasks computed by ``learn.study_engine``);
- ``learn.table1_results``: :class:`RowResult`, CSV records, matched utility, the paper's claim;
- ``learn.table1_report``: ``table1.csv``, ``table1.md`` and ``table1.json``.

Code that changes a module-level name for a test (``monkeypatch``) must change it in the
module that uses it (e.g. ``learn.table1_cameras.learn_camera``), not here.
"""
from __future__ import annotations

from learn.table1_cache import TaskCache
from learn.table1_cameras import (baseline_encoder, camera_encoder, camera_seed, learn_camera,
                                  physical_twin, row_camera)
from learn.table1_report import claim_lines, markdown_table, matched_lines, write_table1
from learn.table1_results import (CSV_COLUMNS, PHYSICAL_NOT_RUN, RowResult, _percent,
                                  claim_check, csv_record, matched_comparison, matched_utility,
                                  merge_row_seeds, parameter_cameras, sweep_points)
from learn.table1_rows import (BASELINE_STRENGTH, FULL, PHYSICAL_CAMERA, PHYSICAL_MASKS,
                               PHYSICAL_MODE_SUFFIX, QUICK, ROW_DEFINING_FIELDS, ROWS,
                               SAME_ENCODER, Profile, Row, _build_rows, _configs, _key_text,
                               camera_override_row, physical_mode_row)
from learn.table1_run import _Evaluator, run_table1
from learn.table1_tasks import _task_cost, needs_twin, plan_lines, table_tasks, task_name

__all__ = ["BASELINE_STRENGTH", "CSV_COLUMNS", "FULL", "PHYSICAL_CAMERA", "PHYSICAL_MASKS",
           "PHYSICAL_MODE_SUFFIX", "PHYSICAL_NOT_RUN", "QUICK", "ROWS", "ROW_DEFINING_FIELDS",
           "SAME_ENCODER", "Profile", "Row", "RowResult", "TaskCache", "baseline_encoder",
           "camera_encoder", "camera_override_row", "camera_seed", "claim_check", "claim_lines",
           "csv_record", "learn_camera", "markdown_table", "matched_comparison", "matched_lines",
           "matched_utility", "merge_row_seeds", "needs_twin", "parameter_cameras",
           "physical_mode_row", "physical_twin", "plan_lines", "row_camera", "run_table1",
           "sweep_points", "table_tasks", "task_name", "write_table1"]
