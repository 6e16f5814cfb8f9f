"""Finished Table 1 tasks kept on disk, so that an interrupted ``canopic table1`` run resumes.

Each finished task (``learn.table1_tasks``: one row or sweep point at one evaluation seed) is a
record of the project's fingerprint cache (``canopic.core.cache.FingerprintCache``, torch codec,
read with ``torch.load(weights_only=True)``): ``<folder>/<task name>.pt`` holding the
fingerprint of the settings that decide the result and the result as plain data
(``learn.table1_records``). Nothing in a results folder is unpickled, so a folder from someone
else cannot run code; the ``.pkl`` files of earlier versions are ignored (never opened) and the
tasks run again.
"""
from __future__ import annotations

from pathlib import Path

from canopic.core.cache import FingerprintCache, fingerprint
from learn.table1_records import from_plain, to_plain
from learn.table1_tasks import task_name


class TaskCache:
    """Finished tasks of a table1 run, kept on disk so an interrupted run resumes.

    A task is one row or sweep point at one evaluation seed; each finished one is saved to
    ``folder/<task name>.pt`` (:func:`learn.table1_tasks.task_name`) beside the fingerprint
    (sha256) of everything that decides its result: the profile, attacks and data
    (``settings``, less its seed count, which no task depends on: a 3-seed run reuses a 1-seed
    run's seed 0; see :meth:`fingerprint`). A task is reused only when the fingerprint matches;
    otherwise it is run again and overwritten.

    Parameters
    ----------
    folder : str or Path
        Where the task files go (created on the first save).
    settings : dict
        JSON-like settings of the run (values JSON cannot hold count by their ``repr``).
    """

    def __init__(self, folder, settings: dict):
        self.folder = Path(folder)
        self.settings = settings
        self._records = FingerprintCache(self.folder, codec="torch")

    def fingerprint(self, task: tuple) -> str:
        """sha256 (64 hex digits) of the settings that decide ``task``'s result.

        Only learned rows depend on the alternating-optimisation schedule
        (``settings["profile"]["alternating"]``), so other tasks are reused when only the
        schedule changes.
        """
        return self._digest(learned=task[0] == "row" and task[1].kind == "learned",
                            drop=("seeds",))

    def recogniser_store(self):
        """The clean recognisers of the reconstruction attack, kept in ``folder/recognisers``.

        Their fingerprint is that of a task that does not learn, without the seed count and the
        attack list (a seed's recogniser depends on neither).
        """
        from learn.recogniser_store import RecogniserStore

        return RecogniserStore(self.folder / "recognisers",
                               self._digest(learned=False, drop=("seeds", "attacks")))

    def _digest(self, learned: bool, drop: "tuple[str, ...]" = ()) -> str:
        """sha256 of the settings less ``drop`` (and less the schedule unless ``learned``)."""
        settings = {k: v for k, v in self.settings.items() if k not in drop}
        if isinstance(settings.get("profile"), dict):
            # the schedule and the encoder's faces decide only learned rows; verification settings are part of a task
            # only where verification runs, and never of a clean recogniser
            leave_out = set() if learned else {"alternating", "encoder_faces"}
            if settings["profile"].get("verification") is None or "attacks" in drop:
                leave_out.add("verification")
            settings["profile"] = {k: v for k, v in settings["profile"].items()
                                   if k not in leave_out}
        return fingerprint(settings)

    def path(self, task: tuple) -> Path:
        """The file of ``task``: ``folder/<task name>.pt``."""
        return self._records.path(task_name(task))

    def load(self, task: tuple, any_settings: bool = False):
        """The cached result of ``task`` (a RowResult or EvaluationResult), or None (missing,
        unreadable, written with other settings, or not a result).

        ``any_settings``: take the record whatever settings wrote it (no fingerprint check; for
        a study that reads, say, the learned camera of a run whose settings it does not restate).
        Either way the file is read as plain data (``torch.load(weights_only=True)``).
        """
        if any_settings:
            try:
                import torch

                record = torch.load(self.path(task), map_location="cpu", weights_only=True)
            except Exception:  # noqa: BLE001 - missing, corrupt or foreign: all are a miss
                return None
            payload = record.get("payload") if isinstance(record, dict) else None
        else:
            payload = self._records.load(task_name(task), self.fingerprint(task))
        if not isinstance(payload, dict) or "result" not in payload:
            return None
        try:
            return from_plain(payload["result"])
        except Exception:  # noqa: BLE001 - a foreign or damaged record is a miss, as unreadable
            return None

    def save(self, task: tuple, result) -> None:
        """Store ``result`` of ``task`` (atomically)."""
        self._records.save(task_name(task), self.fingerprint(task),
                           {"task": task_name(task), "result": to_plain(result)})


__all__ = ["TaskCache"]
