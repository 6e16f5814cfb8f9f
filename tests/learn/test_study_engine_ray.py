"""The study engine on Ray (learn.study_engine_ray) against a real Ray instance of this machine
(``ray.init(num_cpus=2)``), and the engine flags of ``canopic table1``.

What is checked against what: the same tiny Table 1 computed by the local engine with one and
two workers and by Ray gives byte-identical CSVs; tasks whose worker process dies are run again
and handed back exactly once; a task that raises is named with its error; bad flags fail in one
line before any data is read or file written.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import sys

import pytest

from learn import study_engine, table1
from tests.learn.test_table1 import TINY, tiny_splits, use_tiny_data

ray = pytest.importorskip("ray", reason="the ray engine's tests need Ray (pip install "
                                      "-e .[cluster])")

from learn import study_engine_ray  # noqa: E402  (after the skip: it needs Ray to be useful)

#: A small table: a baseline sweep point, a row evaluated through another's result ("same"),
#: unlearned rows; one seed, two fast attacks.
KEYS = ("clean", "blur", "conv1_unlearned", "mp_unlearned")
PROFILE = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=(8,), physical=False,
                              verification=None)


@pytest.fixture(scope="module")
def ray_instance():
    """A Ray instance of this machine with 2 CPUs (this process's connection; shut at the end);
    a new one ("local"), whatever RAY_ADDRESS or a ``ray start`` of this machine says."""
    if ray.is_initialized():
        ray.shutdown()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


# -- work functions (module level: the actors import them) --------------------------------------
def _scale(state, task):
    if task == "raise":
        raise ArithmeticError("this task always fails")
    return task * state["factor"], state["pid"]


def _state(factor):
    return {"factor": factor, "pid": os.getpid()}


def _dies_once(folder, task):
    """Kill this worker process the first time ``task`` runs (a marker file remembers)."""
    marker = os.path.join(folder, f"ran-{task}")
    if task in ("die once", "always die") and (task == "always die" or not os.path.exists(marker)):
        open(marker, "w").close()
        os._exit(1)
    return f"{task} done"


def _no_data():
    raise FileNotFoundError("data/faces64_wide.npz not found on this node")


def _blind(path, token):
    """A node that does not see the run folder."""
    return False


# -- the engine ---------------------------------------------------------------------------------
def test_engine_spec_refuses_bad_values_naming_the_parameter():
    for kwargs, name in ((dict(kind="spark"), "engine"), (dict(workers=0), "workers"),
                         (dict(kind="ray", cpus_per_task=0), "cpus_per_task"),
                         (dict(kind="ray", gpus_per_task=-1), "gpus_per_task"),
                         (dict(kind="ray", gpus_per_task=1.5), "gpus_per_task"),
                         (dict(kind="ray", retries=-1), "retries"),
                         (dict(address="auto"), "address"), (dict(gpus_per_task=0.5),
                                                             "gpus_per_task")):
        with pytest.raises(ValueError, match=f"^{name}:"):
            study_engine.EngineSpec(**kwargs)
    assert study_engine.EngineSpec("ray", gpus_per_task=0.25).gpus_per_task == 0.25
    assert isinstance(study_engine.EngineSpec().make(), study_engine.LocalEngine)
    with pytest.raises(ValueError, match="^address: 'nowhere' is not allowed"):
        study_engine.make_engine("ray", address="nowhere")


def test_ray_engine_builds_each_workers_state_once_and_names_a_failed_task(ray_instance):
    engine = study_engine.make_engine("ray", initializer=_state, initargs=(3,))
    tasks = [1, 2, "raise", 4, 5, 6]
    got = {}
    with pytest.raises(study_engine_ray.TaskFailures) as failed:
        engine.run(tasks, _scale, lambda i, r: got.setdefault(i, r),
                   names=[f"task-{t}" for t in tasks])
    assert failed.value.failures == [(2, "task-raise",
                                      "ArithmeticError: this task always fails")]
    assert str(failed.value).startswith("1 of 6 tasks failed (the others finished): task-raise")
    assert {i: r[0] for i, r in got.items()} == {0: 3, 1: 6, 3: 12, 4: 15, 5: 18}
    workers = {r[1] for r in got.values()}        # the actors' processes, not this one
    assert len(workers) <= 2 and os.getpid() not in workers
    again = []                                 # the same actors, their states kept
    engine.run([7, 8], _scale, lambda i, r: again.append(r[1]))
    # (the actor that only met the failing task may serve here: its process was not seen above)
    assert len(set(again) | workers) <= 2 and os.getpid() not in again
    engine.close()


def test_a_task_whose_worker_dies_runs_again_and_arrives_once(ray_instance, tmp_path):
    engine = study_engine.make_engine("ray", initializer=str, initargs=(str(tmp_path),),
                                      retries=1, workers=2)
    got = []
    engine.run(["a", "die once", "b", "c"], _dies_once, lambda i, r: got.append((i, r)))
    assert sorted(got) == [(0, "a done"), (1, "die once done"), (2, "b done"), (3, "c done")]
    got.clear()
    with pytest.raises(study_engine_ray.TaskFailures, match="always die: lost 2 times") as failed:
        engine.run(["x", "always die", "y"], _dies_once, lambda i, r: got.append((i, r)),
                   names=["x", "always die", "y"])
    assert sorted(got) == [(0, "x done"), (2, "y done")]
    assert [name for _, name, _ in failed.value.failures] == ["always die"]
    engine.close()


def test_workers_whose_state_cannot_be_built_fail_every_task_by_name(ray_instance):
    engine = study_engine.make_engine("ray", initializer=_no_data, workers=2)
    with pytest.raises(study_engine_ray.TaskFailures) as failed:
        engine.run([1, 2, 3], _scale, lambda i, r: pytest.fail("a task ran"),
                   names=["one", "two", "three"])
    assert [name for _, name, _ in failed.value.failures] == ["one", "two", "three"]
    assert all(error.startswith("no Ray worker could run it (ActorDiedError: ") and
               error.endswith("FileNotFoundError: data/faces64_wide.npz not found on this node)")
               for _, _, error in failed.value.failures)


# -- Table 1 on every engine --------------------------------------------------------------------
def _csv(results, sweeps, folder) -> bytes:
    """table1.csv of ``results`` with the compute times (the only column that may differ)
    set to 0."""
    results = [dataclasses.replace(item, seconds=0.0) for item in results]
    return open(table1.write_table1(results, folder, sweeps, {"profile": "test"})["csv"],
                "rb").read()


def test_a_table_is_bit_identical_on_every_engine_and_resumes_on_ray(ray_instance, tmp_path,
                                                                     monkeypatch):
    rows = [row for row in table1.ROWS if row.key in KEYS]
    kwargs = dict(seeds=(0,), attacks=("logistic", "knn"), rows=rows, progress=False)
    serial = _csv(*table1.run_table1(tiny_splits(), PROFILE, **kwargs), tmp_path / "serial")
    pool = _csv(*table1.run_table1(tiny_splits, PROFILE, workers=2, **kwargs), tmp_path / "pool")
    cache = table1.TaskCache(tmp_path / "tasks", {"settings": 1})
    spec = study_engine.EngineSpec("ray", shared_folder=str(tmp_path))
    on_ray = _csv(*table1.run_table1(tiny_splits(), PROFILE, cache=cache, engine=spec, **kwargs),
                  tmp_path / "ray")
    assert serial == pool == on_ray
    assert len(list(csv.DictReader(io.StringIO(on_ray.decode())))) == len(KEYS)
    # every task was saved here as it arrived: a rerun computes nothing
    assert sorted(p.name for p in (tmp_path / "tasks").glob("*.pt")) == [
        "row-blur-seed0.pt", "row-clean-seed0.pt", "row-conv1_unlearned-seed0.pt",
        "row-mp_unlearned-seed0.pt", "sweep-pixelate-8-seed0.pt"]
    monkeypatch.setattr(study_engine_ray.RayEngine, "run", lambda self, tasks, *a, **k: (
        pytest.fail("recomputed") if tasks else None))
    assert _csv(*table1.run_table1(tiny_splits(), PROFILE, cache=cache, engine="ray", **kwargs),
                tmp_path / "again") == serial


def _use_small_table(monkeypatch):
    use_tiny_data(monkeypatch, tiny_splits(), PROFILE)


def _without_seconds(path) -> list:
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(handle)]


def test_canopic_table1_quick_on_ray_gives_the_local_table(ray_instance, tmp_path, monkeypatch):
    from canopic.app.cli import main

    _use_small_table(monkeypatch)
    common = ["table1", "--quick", "--rows", ",".join(KEYS), "--attacks", "logistic,knn",
              "--device", "cpu", "--quiet"]
    assert main(common + ["--out", str(tmp_path / "local")]) == 0
    assert main(common + ["--out", str(tmp_path / "ray"), "--engine", "ray",
                          "--cpus-per-task", "1"]) == 0
    assert _without_seconds(tmp_path / "ray" / "table1.csv") == \
        _without_seconds(tmp_path / "local" / "table1.csv")
    import json

    meta = json.loads((tmp_path / "ray" / "table1.json").read_text())["meta"]
    assert meta["engine"] == "ray" and meta["cpus_per_task"] == 1.0


# -- bad input: one line, exit 1, nothing written -----------------------------------------------
def _fails_in_one_line(argv, out, capsys, *expected) -> str:
    from canopic.app.cli import main

    assert main(argv + ["--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("canopic table1: error: "), err
    assert all(text in err[-1] for text in expected), err[-1]
    assert not out.exists()                      # no run folder, so no task a rerun could reuse
    return err[-1]


def test_engine_ray_without_ray_installed(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray raises ImportError
    _fails_in_one_line(["table1", "--quick", "--engine", "ray"], tmp_path / "run", capsys,
                       "--engine: 'ray' needs Ray", 'pip install "canopic[cluster]"')
    with pytest.raises(ValueError, match="needs Ray"):
        study_engine.make_engine("ray")


def test_an_unreachable_address_fails_at_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(ray, "is_initialized", lambda: False)   # as in a fresh process
    monkeypatch.setattr(ray, "init", lambda *a, **k: pytest.fail("ray.init would wait minutes"))
    _fails_in_one_line(["table1", "--quick", "--engine", "ray", "--address", "127.0.0.1:1"],
                       tmp_path / "run", capsys, "--address: no Ray cluster answers at "
                                                 "'127.0.0.1:1'")
    _fails_in_one_line(["table1", "--quick", "--address", "127.0.0.1:1"], tmp_path / "run",
                       capsys, "--address: only the ray engine takes it")
    for flag, value in (("--retries", "3"), ("--cpus-per-task", "1")):  # even at ray's default
        _fails_in_one_line(["table1", "--quick", flag, value], tmp_path / "run", capsys,
                           f"{flag}: only the ray engine takes it")
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")     # what ray.init would join without one
    _fails_in_one_line(["table1", "--quick", "--engine", "ray"], tmp_path / "run", capsys,
                       "--address: none given means the Ray cluster at", "does not answer")


def test_more_gpus_per_task_than_the_cluster_has(ray_instance, tmp_path, capsys):
    _fails_in_one_line(["table1", "--quick", "--engine", "ray", "--gpus-per-task", "1"],
                       tmp_path / "run", capsys,
                       "--gpus-per-task: 1 is more than any node of the Ray cluster has")
    _fails_in_one_line(["table1", "--quick", "--engine", "ray", "--cpus-per-task", "3"],
                       tmp_path / "run", capsys, "--cpus-per-task: 3 is more than any node")
    _fails_in_one_line(["table1", "--quick", "--engine", "ray", "--device", "cuda"],
                       tmp_path / "run", capsys, "--device: 'cuda' with --engine ray needs "
                                                 "--gpus-per-task")


def test_a_run_folder_some_node_cannot_see(ray_instance, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(study_engine_ray, "_sees", _blind)
    line = _fails_in_one_line(["table1", "--quick", "--engine", "ray"], tmp_path / "new" / "run",
                              capsys, "run folder: ", "is not visible from Ray node(s)")
    assert str(tmp_path / "new" / "run") in line and not (tmp_path / "new").exists()
