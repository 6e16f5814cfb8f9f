"""A real two-node Ray cluster on this machine: a tiny Table 1 survives losing a node.

Opt-in (``pytest -m cluster``; not part of ``make test``): it starts a head node and a second
worker node on 127.0.0.1 with ``ray start`` (one CPU each, their own temp folders), runs a tiny
table across both with one task per node at a time, kills the worker node (every process it
started, with SIGKILL) once two tasks have finished, and checks that every task was handed back
and saved exactly once and that the table equals the local engine's, byte for byte.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from learn import table1
from tests.learn.test_study_engine_ray import KEYS, PROFILE, _csv
from tests.learn.test_table1 import tiny_splits

ray = pytest.importorskip("ray", reason="the cluster test needs Ray (pip install -e .[cluster])")

pytestmark = pytest.mark.cluster

#: Node-death detection in seconds, not the default ~30 s (the head's health checks of nodes).
FAST_HEALTH = {"RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_period_ms": "1000",
               "RAY_health_check_timeout_ms": "1000", "RAY_health_check_failure_threshold": "3"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray_start(args: "list[str]", log: Path, env: dict) -> subprocess.Popen:
    """``ray start --block ARGS`` in a session of its own (so its processes die together)."""
    ray_cli = Path(sys.executable).with_name("ray")
    with open(log, "w") as handle:
        return subprocess.Popen([str(ray_cli), "start", "--block", "--node-ip-address",
                                 "127.0.0.1", "--num-cpus", "1", "--num-gpus", "0",
                                 "--object-store-memory", str(200 * 2 ** 20),
                                 "--disable-usage-stats", *args],
                                stdout=handle, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)


def _kill(node: subprocess.Popen) -> None:
    """SIGKILL every process of ``node``'s session (raylet, its workers, the node's services)."""
    _kill_session(node.pid)
    node.wait(timeout=30)


def _kill_session(sid: int) -> int:
    """SIGKILL every process of session ``sid`` (a node started by :func:`_ray_start`);
    returns how many there were."""
    members = _session_members(sid)
    for pid in members:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(members)


def _session_members(sid: int) -> "list[int]":
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getsid(int(entry.name)) == sid:
                    members.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
    return members


def _wait_for(predicate, what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture
def two_nodes(tmp_path):
    """(address, head, worker, env): a head node and a worker node on 127.0.0.1, one CPU each,
    and the environment a driver needs to join them."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    # Ray's token authentication on all three (head, worker node, the driver): the token of
    # ~/.ray/auth_token, which the head writes if there is none (Ray < 2.5x ignores this)
    env = {**os.environ, **FAST_HEALTH, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    # short temp folders: Ray's socket paths must stay under 108 characters
    temp = [Path(f"/tmp/canopic-ray-{port}-{name}") for name in ("head", "worker")]
    head = _ray_start(["--head", "--port", str(port), "--include-dashboard", "false",
                       "--temp-dir", str(temp[0])], logs / "head.log", env)
    nodes = [head]
    try:
        _wait_for(lambda: _answers(port), "the head node's GCS port")
        worker = _ray_start(["--address", address, "--temp-dir", str(temp[1])],
                            logs / "worker.log", env)
        nodes.append(worker)
        yield address, head, worker, env
    finally:
        for node in reversed(nodes):
            _kill(node)
        for folder in temp:
            shutil.rmtree(folder, ignore_errors=True)
        for name in ("head.log", "worker.log"):
            print(f"--- {name} (last lines)\n" + "\n".join(
                (logs / name).read_text(errors="replace").splitlines()[-5:]))


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


#: The driver, in a process of its own (Ray's settings are read once per process): a tiny
#: Table 1 on the cluster; the worker node is killed once two results have been saved.
DRIVER = textwrap.dedent("""
    import json, os, sys, time
    import ray
    from learn import study_engine, table1
    from tests.learn.test_cluster import _kill_session
    from tests.learn.test_study_engine_ray import KEYS, PROFILE, _csv
    from tests.learn.test_table1 import tiny_splits

    address, worker_sid, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    ray.init(address=address, logging_level="WARNING")
    deadline = time.monotonic() + 90
    while sum(node["Alive"] for node in ray.nodes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = [row for row in table1.ROWS if row.key in KEYS]
    cache = table1.TaskCache(os.path.join(out, "tasks"), {"settings": 1})
    saved, log = [], {"killed_after": None}
    real_save = cache.save

    def save(task, result):                   # in this process, as each result arrives
        real_save(task, result)
        saved.append(table1.task_name(task))
        if len(saved) == 2:                   # both nodes busy: take one away mid-run
            log["killed_after"] = list(saved)
            log["killed"] = _kill_session(worker_sid)
            log["kill_time"] = time.monotonic()

    cache.save = save
    engines = []
    make = study_engine.EngineSpec.make
    study_engine.EngineSpec.make = lambda spec, *a, **k: engines.append(make(spec, *a, **k)) \
        or engines[-1]
    spec = study_engine.EngineSpec("ray", address=address, retries=2, shared_folder=out)
    start = time.monotonic()
    results, sweeps = table1.run_table1(tiny_splits(), PROFILE, seeds=(0, 1),
                                        attacks=("logistic", "knn"), rows=rows, progress=False,
                                        cache=cache, engine=spec)
    log.update(saved=saved, seconds=time.monotonic() - start,
               after_kill=time.monotonic() - log.get("kill_time", start),
               nodes_used=len(set(engines[0].started_on)), actors=len(engines[0].started_on),
               lost_and_run_again=engines[0].lost,
               alive_at_end=sum(node["Alive"] for node in ray.nodes()))
    _csv(results, sweeps, os.path.join(out, "table"))
    print(json.dumps(log))
""")


def test_a_table_survives_losing_a_node_and_every_task_finishes_once(two_nodes, tmp_path):
    address, head, worker, env = two_nodes
    out = tmp_path / "run"
    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    done = subprocess.run([sys.executable, str(script), address, str(worker.pid), str(out)],
                          cwd=root, env={**env, "PYTHONPATH": str(root)}, capture_output=True,
                          text=True, timeout=600)
    print(done.stderr[-3000:])
    assert done.returncode == 0, done.stderr[-3000:]
    log = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"driver: {log}")
    rows = [row for row in table1.ROWS if row.key in KEYS]
    tasks = table1.table_tasks(rows, PROFILE, (0, 1))
    assert log["killed_after"] and log["killed"] > 0      # the worker node was killed mid-run
    assert log["nodes_used"] == 2                         # after the tasks had used both nodes
    assert log["alive_at_end"] == 1
    assert log["lost_and_run_again"]                      # a task was lost with it, run again
    assert sorted(log["saved"]) == sorted(table1.task_name(task) for task in tasks)
    assert len(log["saved"]) == len(set(log["saved"])) == len(tasks)   # each exactly once
    assert sorted(p.name for p in (out / "tasks").glob("*.pt")) == sorted(
        f"{table1.task_name(task)}.pt" for task in tasks)
    local = _csv(*table1.run_table1(tiny_splits(), PROFILE, seeds=(0, 1),
                                    attacks=("logistic", "knn"), rows=rows, progress=False),
                 tmp_path / "local")
    assert (out / "table" / "table1.csv").read_bytes() == local
