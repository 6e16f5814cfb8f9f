"""Table 1 on tiny synthetic data: every row of the paper, the required columns, the plots."""
from __future__ import annotations

import csv
import json
import os
import re

import numpy as np
import pytest

from learn import datasets, plots, table1, table1_cameras, table1_tasks
from learn.attacks import AttackBudget

#: The paper's Table 1 (ID, face vs no-face; unlearned then learned), copied from the paper.
PAPER = {
    "clean": (97.60, 99.81), "blur": (73.50, 96.61), "pixelate": (75.73, 97.73),
    "conv1_mp_q_unlearned": (36.70, 93.51), "conv1_mp_q_a1_learned": (33.73, 94.66),
    "conv1_mp_q_a50_learned": (19.13, 91.87), "conv1_mp_q_a300_learned": (5.2, 74.81),
    "conv4_mp_q_unlearned": (72.13, 96.94), "conv4_mp_q_a1_learned": (66.50, 98.44),
    "conv4_mp_q_a50_learned": (17.87, 87.75), "conv1_unlearned": (73.50, 96.61),
    "conv1_a300_learned": (56.17, 97.03), "mp_unlearned": (60.40, 96.88),
    "q_unlearned": (97.13, 99.81), "q_a300_learned": (8.63, 78.03),
    "conv1_mp_unlearned": (54.40, 94.49), "conv1_mp_a300_learned": (24.17, 92.50),
    "conv1_q_unlearned": (59.43, 95.36), "conv1_q_a300_learned": (12.07, 84.47),
    "mp_q_unlearned": (51.57, 96.01), "mp_q_a300_learned": (6.73, 74.56),
}

TINY = table1.Profile(
    budget=AttackBudget(cnn_epochs=1, flat_epochs=1, decoder_epochs=1, patience=1,
                        batch_size=16, cnn_width=4),
    n_augment=0, max_per_part=12, blur_sigmas_px=(8.0,), pixelate_blocks=(8,),
    physical_masks=dict(mask_size=128, gs_iterations=3, gd_iterations=3),
    alternating=dict(alternations=1, encoder_epochs=1, recogniser_epochs=1, detector_epochs=1,
                     steps_per_epoch=1, batch_size=8, recogniser_width=4, detector_width=4),
    verification=dict(attacks=("cosine",), val_people=4, val_pairs=8, max_train_people=6,
                      max_test_pairs=16))


def tiny_splits() -> datasets.Splits:
    rng = np.random.default_rng(0)
    identities, per_identity, size = 5, 6, 32
    labels = np.repeat(np.arange(identities), per_identity)
    tint = rng.integers(0, 200, size=(identities, 1, 1, 3))
    images = (tint[labels] + rng.integers(0, 55, size=(len(labels), size, size, 3))).astype(np.uint8)
    faces = datasets.FaceSet(images, labels, tuple(f"id{i}" for i in range(identities)),
                             tuple(f"f{i}" for i in range(len(labels))))
    nonfaces = datasets.ImageSet(rng.integers(0, 255, size=(24, size, size, 3), dtype=np.uint8),
                                 tuple(f"n{i}" for i in range(24)))
    return datasets.make_splits(faces, nonfaces, seed=0, n_eval_identities=3, cap_per_identity=6)


def use_tiny_data(monkeypatch, splits, profile=TINY) -> None:
    """Make ``canopic table1 --quick`` run ``profile`` on ``splits`` instead of the data."""
    monkeypatch.setattr(table1, "QUICK", profile)
    real_load_faces = datasets.load_faces  # LFW (verification, encoder faces) still loads
    monkeypatch.setattr(datasets, "load_faces", lambda source="faces64_wide", *args, **kwargs:
                        real_load_faces(source, *args, **kwargs) if "lfw" in str(source) else None)
    monkeypatch.setattr(datasets, "load_nonfaces", lambda *args, **kwargs: None)
    monkeypatch.setattr(datasets, "make_splits", lambda *args, **kwargs: splits)


def test_rows_match_the_paper():
    keys = [row.key for row in table1.ROWS]
    assert len(keys) == len(set(keys))
    for row in table1.ROWS:
        paper_key = row.key.replace("_published", "_learned")
        assert (row.paper_id, row.paper_face) == PAPER[paper_key]
    assert {row.key.replace("_published", "_learned") for row in table1.ROWS} == set(PAPER)
    published = [row.published for row in table1.ROWS if row.kind == "published"]
    from sensor.published import published_names
    assert sorted(published) == published_names()      # every published encoder has its row


@pytest.fixture(scope="module")
def quick_table(tmp_path_factory):
    out = tmp_path_factory.mktemp("table1")
    results, sweeps = table1.run_table1(tiny_splits(), TINY, seeds=(0,),
                                        attacks=("logistic", "knn"), progress=False)
    paths = table1.write_table1(results, out, sweeps, {"profile": "test"})
    return results, sweeps, paths, out


def test_quick_table_has_every_row_and_column(quick_table):
    results, sweeps, paths, _ = quick_table
    with open(paths["csv"], newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["key"] for r in rows] == [row.key for row in table1.ROWS]
    assert tuple(rows[0]) == table1.CSV_COLUMNS
    for record in rows:
        assert record["status"] == "ok", record
        assert 0.0 <= float(record["id_top1_mean"]) <= 100.0
        assert 0.0 <= float(record["face_acc_mean"]) <= 100.0
        assert record["strongest_attack"] in ("logistic", "knn")
        assert float(record["id_chance"]) == pytest.approx(100 / 3, abs=0.01)
        if record["kind"] != "baseline" and "q" in record["key"].split("_a")[0].split("_"):
            assert record["phys_id_top1_mean"] and record["phys_face_acc_mean"]
        # LFW verification of people no fit has seen: accuracy (chance 50 %) and ROC AUC
        assert 0.0 <= float(record["ver_acc_mean"]) <= 100.0
        assert 0.0 <= float(record["ver_auc_mean"]) <= 1.0 and record["ver_strongest"] == "cosine"
    assert all(points[0][1].verification is not None for points in sweeps.values())
    clean = next(r for r in rows if r["key"] == "clean")
    assert float(clean["id_fraction_of_clean"]) == pytest.approx(1.0)
    assert len(sweeps["blur"]) == 1 and len(sweeps["pixelate"]) == 1
    main, matched = open(paths["md"]).read().split("## At matched utility")
    assert main.count("\n| ") == len(table1.ROWS) + 1      # header + one line per row
    encoders = [row for row in table1.ROWS if row.kind != "baseline"]
    assert matched.count("\n| ") == len(encoders) + 1    # every encoder row vs the sweeps


def test_plots_are_written(quick_table):
    results, sweeps, paths, out = quick_table
    records = [table1.csv_record(item, None) for item in results]
    fig5 = plots.plot_privacy_utility(records, sweeps, os.path.join(out, "fig5.png"))
    fig3 = plots.plot_parameters(table1.parameter_cameras(results), os.path.join(out, "fig3.png"))
    for path in (fig5, fig3):
        with open(path, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(table1.parameter_cameras(results)) == 7    # unlearned + 3 learned + 3 published


def test_cli_writes_tables_and_figures(tmp_path, monkeypatch, capsys):
    """``canopic table1 --quick`` end to end (tiny data and profile): tables and both figures."""
    from canopic.app.cli import main

    splits = tiny_splits()
    use_tiny_data(monkeypatch, splits)
    keys = ("clean", "blur", "conv1_mp_q_unlearned", "conv1_mp_q_a1_learned",
            "conv1_mp_q_a1_published")
    out = tmp_path / "t1"
    assert main(["table1", "--quick", "--out", str(out), "--rows", ",".join(keys),
                 "--attacks", "logistic,knn", "--quiet", "--budget", "cnn_epochs=2",
                 "--device", "cpu"]) == 0
    meta = json.loads((out / "table1.json").read_text())["meta"]
    assert meta["budget"]["cnn_epochs"] == 2 and meta["device"] == "cpu"
    with open(out / "table1.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["key"] for r in rows] == list(keys)
    assert all(r["status"] == "ok" and r["id_top1_mean"] and r["face_acc_mean"] for r in rows)
    for name in ("privacy_utility.png", "parameters.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Gaussian Blur |" in (out / "table1.md").read_text()
    assert main(["table1", "--quick", "--out", str(out), "--rows", "nonsense"]) == 1
    assert "--rows" in capsys.readouterr().err
    # --plan computes nothing and says which tasks the folder already holds
    (out / "table1.csv").unlink()
    assert main(["table1", "--quick", "--out", str(out), "--rows", "clean,pixelate",
                 "--attacks", "logistic,knn", "--budget", "cnn_epochs=2", "--device", "cpu",
                 "--seeds", "2", "--workers", "2", "--plan"]) == 0
    plan = capsys.readouterr().out.splitlines()
    assert not (out / "table1.csv").exists()
    status = {line.split()[-1]: line.split("  ")[0].strip() for line in plan[:-2]}
    assert status["row-clean-seed0"] == "done" and status["row-clean-seed1"] == "to run"
    assert status["row-pixelate-seed0"] == "to run"
    assert sorted(status) == ["row-clean-seed0", "row-clean-seed1", "row-pixelate-seed0",
                              "row-pixelate-seed1", "sweep-blur-8-seed0", "sweep-blur-8-seed1"]
    assert plan[-2].startswith(f"1 of {len(status)} tasks done (cost 3);")
    assert plan[-1].startswith("finished rows took") and "process-hours to go" in plan[-1]
    import re
    hours, wall = re.search(r"about ([\d.]+) process-hours to go, about ([\d.]+) h with 2 "
                            r"workers", plan[-1]).groups()
    assert float(wall) == pytest.approx(float(hours) / 2, abs=0.051)


def test_physical_mode_rows_learn_through_the_noisy_two_mask_camera(tmp_path, monkeypatch):
    from canopic.app.cli import main

    learned = next(r for r in table1.ROWS if r.key == "conv4_mp_q_a50_learned")
    row = table1.physical_mode_row(learned)
    assert row.key == "conv4_mp_q_a50_learned_physical_mode" and row.kind == "learned"
    assert row.camera["kernel_mode"] == "two_mask"
    assert row.camera["sensor"] == table1.PHYSICAL_CAMERA["sensor"]
    assert row.camera["adc_mismatch_sigma"] == table1.PHYSICAL_CAMERA["adc_mismatch_sigma"] > 0
    unlearned = next(r for r in table1.ROWS if r.key == "conv4_mp_q_unlearned")
    assert table1.physical_mode_row(unlearned) is unlearned

    splits = tiny_splits()
    use_tiny_data(monkeypatch, splits)
    out = tmp_path / "t1"
    assert main(["table1", "--quick", "--out", str(out), "--rows", "clean,conv1_mp_q_a1_learned",
                 "--learn-mode", "physical", "--attacks", "logistic", "--quiet",
                 "--device", "cpu"]) == 0
    with open(out / "table1.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["key"] for r in rows] == ["clean", "conv1_mp_q_a1_learned_physical_mode"]
    assert all(r["status"] == "ok" and r["id_top1_mean"] and r["face_acc_mean"] for r in rows)
    assert json.loads((out / "table1.json").read_text())["meta"]["learn_mode"] == "physical"


def test_finished_tasks_are_reused_only_with_the_same_settings(tmp_path, monkeypatch):
    """An interrupted table1 resumes from OUT/tasks (one file per row or sweep point and seed);
    other settings or a corrupt file recompute; more seeds compute only the new seeds."""
    import dataclasses

    rows = [row for row in table1.ROWS if row.key in ("clean", "mp_unlearned")]
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=(4,))
    run = lambda cache, seeds=(0,): table1.run_table1(
        tiny_splits(), profile, seeds=seeds, attacks=("knn",), rows=rows, progress=False,
        cache=cache)
    settings = lambda n, schedule, seeds=1: table1.TaskCache(
        tmp_path, {"settings": n, "seeds": seeds, "profile": {"alternating": {"epochs": schedule}}})
    first, first_sweeps = run(settings(1, 1))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "row-clean-seed0.pt", "row-mp_unlearned-seed0.pt", "sweep-pixelate-4-seed0.pt"]

    computed = []
    real_run = table1._Evaluator.run

    def counting(self, task):
        computed.append(table1.task_name(task))
        return real_run(self, task)

    monkeypatch.setattr(table1._Evaluator, "run", counting)
    two, _ = run(settings(1, 1, seeds=2), seeds=(0, 1))   # the seed count is not in a task's print
    assert sorted(computed) == ["row-clean-seed1", "row-mp_unlearned-seed1",
                                "sweep-pixelate-4-seed1"]
    assert two[0].result.privacy.seeds == [0, 1]
    assert [s for s in two[0].result.privacy.scores if s.seed == 0] == first[0].result.privacy.scores

    def refuse(self, task):
        raise AssertionError(f"recomputed {table1.task_name(task)}")

    monkeypatch.setattr(table1._Evaluator, "run", refuse)
    again, again_sweeps = run(settings(1, 1))
    assert [table1.csv_record(r, None) for r in again] == [table1.csv_record(r, None) for r in first]
    assert again_sweeps["pixelate"][0][1].privacy.scores == first_sweeps["pixelate"][0][1].privacy.scores
    run(settings(1, 2))           # only learned rows depend on the alternating schedule
    learned = ("row", next(r for r in table1.ROWS if r.kind == "learned"), 0)
    assert settings(1, 2).fingerprint(learned) != settings(1, 1).fingerprint(learned)
    with pytest.raises(AssertionError, match="recomputed row-clean-seed0"):
        run(settings(2, 1))
    (tmp_path / "row-clean-seed0.pt").write_bytes(b"not a torch file")
    with pytest.raises(AssertionError, match="recomputed row-clean-seed0"):
        run(settings(1, 1))


def test_a_twin_that_could_not_be_built_is_tried_again_from_the_cached_camera(tmp_path,
                                                                               monkeypatch):
    """A cached learned row whose mask design failed is not learned again: the next run builds
    its twin from the cached camera, evaluates it and saves it; `--plan` says 'twin'."""
    import dataclasses

    import optics.signed

    row = next(r for r in table1.ROWS if r.key == "conv1_mp_q_a1_learned")
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=())
    cache = table1.TaskCache(tmp_path, {"settings": 1})
    run = lambda: table1.run_table1(tiny_splits(), profile, seeds=(0,), attacks=("knn",),
                                    rows=[row], progress=False, cache=cache)
    real_design = optics.signed.design_signed_masks

    def no_positive_tap(*args, **kwargs):
        raise ValueError("kernel: a filter has no positive tap")

    monkeypatch.setattr(optics.signed, "design_signed_masks", no_positive_tap)
    first, _ = run()
    assert first[0].status == f"{table1.PHYSICAL_NOT_RUN}: kernel: a filter has no positive tap"
    assert first[0].physical is None and first[0].camera is not None
    tasks = table1.table_tasks([row], profile, (0,))
    assert table1.plan_lines(tasks, cache)[0].startswith("twin")
    assert any("1 of them but for the physical twin" in line
               for line in table1.plan_lines(tasks, cache))
    assert run()[0][0].physical is None       # fails again: still cached without a twin

    monkeypatch.setattr(optics.signed, "design_signed_masks", real_design)
    monkeypatch.setattr(table1_cameras, "learn_camera",
                        lambda *a, **k: pytest.fail("learned again"))
    second, _ = run()
    assert second[0].status == "ok" and second[0].physical is not None
    assert second[0].result.privacy.scores == first[0].result.privacy.scores
    assert second[0].seconds > first[0].seconds
    assert table1.plan_lines(tasks, cache)[0].startswith("done")
    monkeypatch.setattr(table1._Evaluator, "run", lambda *a: pytest.fail("recomputed"))
    assert run()[0][0].physical.privacy.scores == second[0].physical.privacy.scores


class _Planted:
    """Makes the directory ``marker`` when unpickled: what a malicious results folder could hold."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch reading the raw pickle
def test_a_results_folder_never_runs_code_from_its_files(tmp_path):
    """Task files are read as plain data: a pickle planted under every name a task's file could
    have (the old .pkl; the .pt with the right fingerprint, as a raw pickle and as a torch file;
    a .json) runs nothing; the tasks run again, equal a clean run and replace the planted files."""
    import dataclasses
    import pickle

    import torch

    rows = [row for row in table1.ROWS if row.key in ("clean", "mp_unlearned")]
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=(4,))
    run = lambda cache: table1.run_table1(tiny_splits(), profile, seeds=(0,), attacks=("knn",),
                                          rows=rows, progress=False, cache=cache)
    tasks = table1.table_tasks(rows, profile, (0,))
    proof, marker = tmp_path / "proof", tmp_path / "marker"
    pickle.loads(pickle.dumps(_Planted(proof)))          # the planted payload is live
    assert proof.is_dir()
    clean, clean_sweeps = run(None)
    for form in ("pickle", "torch"):
        cache = table1.TaskCache(tmp_path / form, {"settings": 1})
        (tmp_path / form).mkdir()
        for task in tasks:
            name = table1.task_name(task)
            record = {"fingerprint": cache.fingerprint(task), "task": name,
                      "result": _Planted(marker), "payload": {"task": name,
                                                               "result": _Planted(marker)}}
            for path in (cache.folder / f"{name}.pkl", cache.folder / f"{name}.json"):
                path.write_bytes(pickle.dumps(record))
            if form == "torch":
                torch.save(record, cache.path(task))
            else:
                cache.path(task).write_bytes(pickle.dumps(record))
        assert [cache.load(task) for task in tasks] == [None] * 3
        assert [cache.load(task, any_settings=True) for task in tasks] == [None] * 3
        assert table1.plan_lines(tasks, cache)[-1].startswith("0 of 3 tasks done")
        results, sweeps = run(cache)
        assert not marker.exists()
        assert [(r.row, r.status, r.result) for r in results] == [
            (r.row, r.status, r.result) for r in clean]
        assert sweeps["pixelate"][0][1] == clean_sweeps["pixelate"][0][1]
        assert [type(cache.load(task)).__name__ for task in tasks] == [
            "RowResult", "RowResult", "EvaluationResult"]
    assert not marker.exists()


def test_a_row_result_with_a_learned_camera_round_trips_through_the_task_cache(tmp_path):
    """Saved and loaded: the same numbers, and a camera (learned in physical mode: two-mask
    kernel, sensor, comparator and ADC noise; or published, with repeated thresholds) with the
    same tensors that gives the same codes on a fixed input."""
    import torch

    from learn.evaluation import (AttackScore, EvaluationResult, PrivacyResult, Spread,
                                  UtilityResult)

    by_key = {row.key: row for row in table1.ROWS}
    learned = table1.physical_mode_row(by_key["conv4_mp_q_a1_learned"])
    published = by_key["conv1_mp_q_a1_published"]
    cameras = {learned.key: table1.row_camera(learned, tiny_splits(), TINY, seed=1,
                                              progress=False),
               published.key: table1.row_camera(published, None, TINY)}
    scenes = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    codes = lambda camera: camera(scenes, mode="hard", generator=torch.Generator().manual_seed(0))
    cache = table1.TaskCache(tmp_path, {"settings": 1})
    for row in (learned, published):
        camera = cameras[row.key].cpu().eval()
        result = EvaluationResult(PrivacyResult([AttackScore("knn", 1, 0.25, 1 / 3, 0.8),
                                                 AttackScore("mlp", 1, 0.5, 0.1, 0.7)], 3),
                                  UtilityResult(Spread.of([0.9]), Spread.of([0.875]), 0.5))
        item = table1.RowResult(row, f"{table1.PHYSICAL_NOT_RUN}: masks", result, None, 12.5,
                                camera)
        task = ("row", row, 1)
        cache.save(task, item)
        assert cache.path(task).name == f"row-{row.key}-seed1.pt"
        loaded = cache.load(task)
        assert (loaded.row, loaded.status, loaded.result, loaded.physical, loaded.seconds) == (
            row, item.status, result, None, 12.5)
        assert loaded.result.utility.test_accuracy.values == (0.875,)
        assert table1.csv_record(loaded, None) == table1.csv_record(item, None)
        assert table1.needs_twin(loaded)
        assert type(loaded.camera) is type(camera) and loaded.camera.config == camera.config
        assert not loaded.camera.training
        state = camera.state_dict()
        assert sorted(loaded.camera.state_dict()) == sorted(state)
        assert all(torch.equal(value, state[name]) and value.dtype == state[name].dtype
                   for name, value in loaded.camera.state_dict().items())
        assert torch.equal(loaded.camera.thresholds, camera.thresholds)
        assert torch.equal(codes(loaded.camera), codes(camera))
    assert cameras[learned.key].optics.is_two_mask and cameras[learned.key].pixels is not None


def test_per_seed_row_results_merge_into_one_row():
    """merge_row_seeds: seconds add up, the first status that is not ok speaks for the row."""
    from learn.evaluation import AttackScore, EvaluationResult, PrivacyResult

    row = next(r for r in table1.ROWS if r.key == "mp_unlearned")
    result = lambda seed, top1: EvaluationResult(
        PrivacyResult([AttackScore("knn", seed, 0.5, top1, 0.9)], 3), None)
    items = [table1.RowResult(row, "ok", result(0, 0.2), result(0, 0.1), 10.0, camera="c0"),
             table1.RowResult(row, "ok; physical not run: masks", result(1, 0.4), None, 5.0)]
    merged = table1.merge_row_seeds(items)
    assert merged.status == "ok; physical not run: masks"
    assert merged.result.privacy.top1.values == (0.2, 0.4)
    assert merged.physical is None and merged.seconds == 15.0 and merged.camera == "c0"
    failed = table1.merge_row_seeds([items[0], table1.RowResult(row, "not run: no optics")])
    assert failed.status == "not run: no optics" and failed.result is None


def test_worker_processes_give_the_same_numbers(tmp_path):
    """--workers 2: rows evaluated in two spawned processes equal the one-process run."""
    import dataclasses

    rows = [row for row in table1.ROWS if row.key in ("clean", "mp_unlearned", "pixelate")]
    profile = dataclasses.replace(TINY, blur_sigmas_px=(4.0,), pixelate_blocks=())
    kwargs = dict(seeds=(0, 1), attacks=("logistic", "knn"), rows=rows, progress=False)
    serial, serial_sweeps = table1.run_table1(tiny_splits(), profile, **kwargs)
    parallel, parallel_sweeps = table1.run_table1(tiny_splits, profile, workers=2, **kwargs)
    assert [r.row.key for r in parallel] == [r.row.key for r in serial]
    for a, b in zip(serial, parallel):
        assert a.result.privacy.scores == b.result.privacy.scores
        assert a.result.utility.test_accuracy == b.result.utility.test_accuracy
    assert parallel_sweeps["blur"][0][1].privacy.scores == serial_sweeps["blur"][0][1].privacy.scores
    with pytest.raises(ValueError, match="callable"):
        table1.run_table1(tiny_splits(), profile, workers=2, **kwargs)


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_false_prints_no_bar_at_all(workers, capfd):
    """progress=False (`canopic table1 --quiet`) silences the per-task bars too (attacks,
    alternations), in worker processes as well; progress=True shows them."""
    import dataclasses

    rows = [row for row in table1.ROWS if row.key in ("mp_q_a300_learned", "mp_unlearned")]
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=(), physical=False)
    splits = tiny_splits if workers > 1 else tiny_splits()
    kwargs = dict(seeds=(0,), attacks=("knn",), rows=rows, workers=workers)
    table1.run_table1(splits, profile, progress=False, **kwargs)
    assert capfd.readouterr().err == ""
    if workers == 1:
        table1.run_table1(splits, profile, progress=True, **kwargs)
        err = capfd.readouterr().err
        assert "mp_q_a300_learned learning (seed 0)" in err and "mp_unlearned seed 0" in err


def _fake(key: str, ids, faces) -> "table1.RowResult":
    from learn.evaluation import (AttackScore, EvaluationResult, PrivacyResult, Spread,
                                  UtilityResult)

    row = next(r for r in table1.ROWS if r.key == key)
    scores = [AttackScore("mlp", seed, 0.0, value, 1.0) for seed, value in enumerate(ids)]
    utility = UtilityResult(Spread.of(faces), Spread.of(faces), 0.5)
    return table1.RowResult(row, "ok", EvaluationResult(PrivacyResult(scores, 30), utility))


def test_claim_check_states_the_verdict_per_mean_and_seed():
    base = [_fake("blur", [0.30, 0.32, 0.31], [0.95, 0.95, 0.96]),
            _fake("pixelate", [0.40, 0.42, 0.38], [0.96, 0.97, 0.96])]
    wins = _fake("conv4_mp_q_a1_learned", [0.25, 0.33, 0.20], [0.97, 0.98, 0.97])
    stronger = _fake("conv4_mp_q_a50_learned", [0.10, 0.12, 0.11], [0.90, 0.91, 0.90])
    claim = table1.claim_check(base + [wins, stronger])
    assert claim["holds_on_means"] and not claim["holds_every_seed"]   # seed 1: 0.33 > 0.32
    assert claim["blur"]["seeds_more_private"] == 2 and claim["pixelate"]["seeds_more_useful"] == 3
    assert claim["alpha_monotone"] is True
    assert claim["alpha_id_top1"] == [[1.0, pytest.approx(0.26)], [50.0, pytest.approx(0.11)]]
    assert "HOLDS" in table1.claim_lines(claim)[0]
    loses = _fake("conv4_mp_q_a1_learned", [0.25, 0.26, 0.20], [0.95, 0.96, 0.95])
    claim = table1.claim_check(base + [loses, _fake("conv4_mp_q_a50_learned", [.3, .3, .3], [.9] * 3)])
    assert not claim["holds_on_means"] and claim["alpha_monotone"] is False
    assert "DOES NOT HOLD" in table1.claim_lines(claim)[0]
    assert "does NOT lower" in table1.claim_lines(claim)[-1]
    assert table1.claim_check(base) is None


def test_matched_utility_interpolates_the_sweep_and_never_extrapolates():
    sweep = [(0.96, 0.30), (0.98, 0.42)]          # (face, identity) of two blur strengths
    point = table1.matched_utility(0.97, sweep)
    assert point["id_top1"] == pytest.approx(0.36) and point["between"] == [0.96, 0.98]
    assert table1.matched_utility(0.99, sweep) is None
    assert table1.matched_utility(0.97, sweep[:1]) is None
    blur = _fake("blur", [0.30] * 3, [0.96] * 3)
    sweeps = {"blur": [(4.0, _fake("blur", [0.42] * 3, [0.98] * 3).result), (8.0, blur.result)],
              "pixelate": []}
    design = _fake("conv4_mp_q_a1_learned", [0.38] * 3, [0.97] * 3)
    claim = table1.claim_check([blur, _fake("pixelate", [0.4] * 3, [0.97] * 3), design],
                               sweeps=sweeps)
    matched = claim["blur"]["matched_utility"]
    assert matched["id_top1"] == pytest.approx(0.36) and matched["more_private"] is False
    assert claim["pixelate"]["matched_utility"] is None
    assert any("LESS private" in line for line in table1.claim_lines(claim))
    assert matched["within_spread"] is False          # 2 points apart, no spread over seeds
    spread = _fake("conv4_mp_q_a1_learned", [0.33, 0.38, 0.43], [0.97] * 3)   # std 0.05
    claim = table1.claim_check([blur, _fake("pixelate", [0.4] * 3, [0.97] * 3), spread],
                               sweeps=sweeps)
    assert claim["blur"]["matched_utility"]["within_spread"] is True
    assert any("LESS private, within the design's spread over seeds (+- 5.0)" in line
               for line in table1.claim_lines(claim))


def test_every_encoder_row_is_set_against_both_sweeps_at_its_face_accuracy(tmp_path):
    """The matched-utility section: each encoder row beside blur and pixelation interpolated to
    its own face accuracy; '-' outside a sweep; baselines are not compared with themselves."""
    point = lambda key, ident, face: _fake(key, [ident] * 3, [face] * 3)
    blur, pixelate = point("blur", 0.30, 0.96), point("pixelate", 0.40, 0.97)
    sweeps = {"blur": [(4.0, point("blur", 0.42, 0.98).result), (8.0, blur.result)],
              "pixelate": [(2.0, point("pixelate", 0.60, 0.99).result), (8.0, pixelate.result)]}
    rows = [blur, pixelate, point("mp_unlearned", 0.25, 0.975),
            point("conv4_mp_q_a50_learned", 0.10, 0.90)]
    table = table1.matched_comparison(rows, sweeps)
    assert [entry["key"] for entry in table] == ["mp_unlearned", "conv4_mp_q_a50_learned"]
    assert table[0]["blur"] == pytest.approx(0.39)       # 0.30 + (0.975 - 0.96) / 0.02 * 0.12
    assert table[0]["pixelate"] == pytest.approx(0.45)   # 0.40 + (0.975 - 0.97) / 0.02 * 0.20
    assert table[1]["blur"] is None and table[1]["pixelate"] is None   # 90 % face: outside both
    paths = table1.write_table1(rows, tmp_path, sweeps, {"profile": "test"})
    markdown = open(paths["md"]).read()
    assert "## At matched utility" in markdown
    assert "| MP | unlearned | 97.5 | 25.0 | 39.0 | 45.0 |" in markdown
    assert "| 90.0 | 10.0 | - | - |" in markdown
    saved = json.load(open(paths["json"]))["matched_utility"]
    assert saved[0]["blur"] == pytest.approx(0.39)


def test_cli_device_and_budget_errors(tmp_path, capsys):
    """--device and --budget are checked before any work, with messages that name the flag."""
    import torch

    from canopic.app.cli import main

    out = str(tmp_path / "t1")
    bad = [(["--budget", "cnn_epochs=many"], "--budget"), (["--budget", "epochs=3"], "--budget"),
           (["--device", "gpu"], "device")]
    if not torch.cuda.is_available():
        bad.append((["--device", "cuda"], "CUDA"))
    for flags, message in bad:
        assert main(["table1", "--quick", "--out", out, "--rows", "clean", "--quiet"] + flags) == 1
        assert message in capsys.readouterr().err
    assert not os.path.exists(out)


def test_evaluation_data_moves_to_a_device():
    from learn.evaluation import data_from_splits

    data = data_from_splits(tiny_splits(), 12)
    moved = data.to("cpu")
    assert moved is not data and moved.num_classes == data.num_classes
    assert all(getattr(moved, name).images.equal(getattr(data, name).images) and
               getattr(moved, name).labels.equal(getattr(data, name).labels)
               for name in ("id_train", "id_val", "id_test", "det_train", "det_val", "det_test"))


def test_physical_twin_without_masks_or_noise_is_the_design():
    """Two ideal captures (K+ and K-) subtracted, noise-free, give the learned design's codes."""
    import torch

    from sensor import Camera, CameraConfig

    row = next(r for r in table1.ROWS if r.key == "conv4_mp_q_unlearned")
    camera = Camera(CameraConfig(**row.camera))
    with torch.no_grad():
        camera.optics.taps.data[:, :, :2] *= -1.0   # make every filter signed
        camera.optics.taps.data *= 30.0             # and give it a learned kernel's large gain
    assert bool((camera.psf < 0).any()) and bool((camera.psf > 0).any())
    assert float(camera.psf.clamp(min=0).sum(dim=(-1, -2)).max()) > 10.0
    scenes = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    bare = table1.physical_twin(camera, masks=None, settings={})
    assert bare.config.sensor is None and bare.config.adc_mismatch_sigma == 0.0
    plus, minus = bare.optics.signed_parts()                 # passive optics: no captured
    brightest = max(float(plus.sum(dim=(-1, -2)).max()),     # PSF sums to more than 1
                    float(minus.sum(dim=(-1, -2)).max()))
    assert abs(brightest - 1.0) < 1e-5
    expected = camera(scenes, mode="hard", generator=torch.Generator().manual_seed(0))
    codes = bare(scenes, mode="hard", generator=torch.Generator().manual_seed(0))
    assert (codes - expected).abs().max() <= 1.0          # float rounding at a threshold
    assert (codes != expected).float().mean() < 0.01
    noisy = table1.physical_twin(camera, masks=None)
    assert noisy.config.sensor is not None
    assert noisy.config.adc_mismatch_sigma == table1.PHYSICAL_CAMERA["adc_mismatch_sigma"]
    assert (noisy(scenes, mode="hard", generator=torch.Generator().manual_seed(0))
            != expected).any()


def test_physical_twin_gives_a_fixed_gain_stage_the_light_factor_back():
    """With a fixed gain stage the conserved light is made up by the gain: same codes."""
    import torch

    from sensor import Camera, CameraConfig

    camera = Camera(CameraConfig(conv="conv4", gain="fixed", fixed_gain=2.0, fixed_offset=0.5))
    with torch.no_grad():
        camera.optics.taps.data *= 8.0
    scenes = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    twin = table1.physical_twin(camera, masks=None, settings={})
    assert not twin.optics.is_two_mask          # non-negative bars: one capture, no empty one
    factor = float(camera.psf.clamp(min=0).sum(dim=(-1, -2)).max())
    assert twin.config.fixed_gain == pytest.approx(2.0 * factor)
    assert twin.config.fixed_offset == pytest.approx(0.5 / factor)
    expected = camera(scenes, mode="hard")
    codes = twin(scenes, mode="hard")
    assert (codes - expected).abs().max() <= 1.0
    assert (codes != expected).float().mean() < 0.01


def test_a_shared_camera_gets_its_physical_twin_once_per_process(monkeypatch):
    """Seeds of an unlearned row share one camera: its masks are designed once, not per seed;
    a learned row's seeds each get their own twin."""
    import dataclasses

    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=())
    designed = []
    real_twin = table1.physical_twin

    def counting(camera, *args, **kwargs):
        designed.append(camera.config.conv)
        return real_twin(camera, *args, **kwargs)

    monkeypatch.setattr(table1_cameras, "physical_twin", counting)  # row_camera calls it there
    rows = [row for row in table1.ROWS if row.key in ("conv1_mp_q_unlearned", "mp_q_a300_learned")]
    results, _ = table1.run_table1(tiny_splits(), profile, seeds=(0, 1), attacks=("knn",),
                                   rows=rows, progress=False)
    assert designed == ["conv1", "none", "none"]
    assert all(item.physical.privacy.seeds == [0, 1] for item in results)


def test_camera_overrides_give_learned_rows_their_own_key_and_spacing(tmp_path, monkeypatch, capsys):
    """--camera min_threshold_spacing=0.9: the learned thresholds (and the twin's) keep 0.9 LSB."""
    import torch

    from canopic.app.cli import main

    learned = next(r for r in table1.ROWS if r.key == "conv1_mp_q_a1_learned")
    row = table1.camera_override_row(learned, {"min_threshold_spacing": 0.9})
    assert row.key == "conv1_mp_q_a1_learned_min_threshold_spacing0.9"
    assert row.camera["min_threshold_spacing"] == 0.9 and learned.camera.get(
        "min_threshold_spacing") is None and "min_threshold_spacing = 0.9" in row.label
    listed = table1.camera_override_row(learned, {"thresholds": [k + 0.5 for k in range(15)],
                                                  "kernel_mode": "two_mask"})
    assert re.fullmatch(r"conv1_mp_q_a1_learned_kernel_modetwo_mask_thresholdsh[0-9a-f]{8}",
                        listed.key), listed.key  # file-name safe; the label keeps the values
    assert "thresholds = [0.5, 1.5" in listed.label
    unlearned = next(r for r in table1.ROWS if r.key == "conv1_mp_q_unlearned")
    assert table1.camera_override_row(unlearned, {"min_threshold_spacing": 0.9}) is unlearned

    splits = tiny_splits()
    camera = table1.row_camera(row, splits, TINY, seed=0, progress=False)
    twin = table1.row_camera(row, splits, TINY, physical=True, learned={(row.key, 0): camera})
    for built in (camera, twin):  # (thresholds barely move in one tiny alternation: check the ADC)
        assert built.config.min_threshold_spacing == built.adc.min_spacing == 0.9
        assert float(torch.diff(built.thresholds.detach()).min()) >= 0.9 - 1e-5

    use_tiny_data(monkeypatch, splits)
    out = tmp_path / "t1"
    base = ["table1", "--quick", "--out", str(out), "--attacks", "logistic", "--quiet",
            "--device", "cpu", "--no-physical"]
    bad = [(["--rows", "clean"], "only learned rows"), (["--camera", "conv=conv4"], "define the row"),
           (["--camera", "lens=3"], "unknown keys"), (["--camera", "spacing"], "KEY=VALUE"),
           (["--camera", "min_threshold_spacing=1.5"], "min_spacing")]
    for flags, message in bad:
        flags = flags if "--rows" in flags else flags + ["--rows", "conv1_mp_q_a1_learned"]
        camera_flags = [] if "--camera" in flags else ["--camera", "min_threshold_spacing=0.9"]
        assert main(base + flags + camera_flags) == 1
        assert message in capsys.readouterr().err
    assert not os.path.exists(out)
    assert main(base + ["--rows", "conv1_mp_q_a1_learned", "--camera",
                        "min_threshold_spacing=0.9"]) == 0
    with open(out / "table1.csv", newline="") as handle:
        assert [r["key"] for r in csv.DictReader(handle)] == [row.key]
    assert json.load(open(out / "table1.json"))["meta"]["camera_overrides"] == {
        "min_threshold_spacing": 0.9}


def test_pixelate_blocks_too_large_for_the_attackers_fail_before_computing(tmp_path, monkeypatch,
                                                                           capsys):
    """A block leaving under 4 px a side (the CNN's minimum) is refused at once, not after an hour."""
    from canopic.app.cli import main
    from learn.attack_networks import MIN_INPUT_SIZE

    splits = tiny_splits()
    size = splits.nonfaces_train.images.shape[1]
    use_tiny_data(monkeypatch, splits)
    out = tmp_path / "t1"
    block = size // MIN_INPUT_SIZE + 1
    assert main(["table1", "--quick", "--out", str(out), "--rows", "pixelate", "--quiet",
                 "--pixelate-blocks", f"2,{block}", "--blur-sigmas", "none"]) == 1
    assert f"--pixelate-blocks: [{block}] leave fewer than 4 px" in capsys.readouterr().err
    assert not os.path.exists(out)


def _evaluations(monkeypatch) -> list:
    """Log the description of every encoder evaluation that table1 runs."""
    seen, real = [], table1._Evaluator.evaluate

    def logged(self, encoder, seed, desc):
        seen.append(f"{desc} seed {seed}")
        return real(self, encoder, seed, desc)

    monkeypatch.setattr(table1._Evaluator, "evaluate", logged)
    return seen


def test_the_unlearned_conv1_row_takes_the_blur_rows_result_without_evaluating_again(
        tmp_path, monkeypatch):
    """conv1_unlearned is the blur row's encoder bit for bit (SAME_ENCODER): beside the blur row
    it is not evaluated again, yet its numbers equal its own evaluation's; it keeps its camera
    and is cached under its own name."""
    import dataclasses

    by_key = {row.key: row for row in table1.ROWS}
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=())
    kwargs = dict(seeds=(0, 1), attacks=("logistic", "knn"), progress=False)
    rows = [by_key["blur"], by_key["conv1_unlearned"]]
    alone, _ = table1.run_table1(tiny_splits(), profile, rows=rows[1:], **kwargs)
    seen = _evaluations(monkeypatch)
    cache = table1.TaskCache(tmp_path, {"settings": 1})
    both, _ = table1.run_table1(tiny_splits(), profile, rows=rows, cache=cache, **kwargs)
    assert seen == ["blur seed 0", "blur seed 1"]
    blur, conv1 = both
    assert conv1.row.key == "conv1_unlearned" and conv1.status == "ok"
    assert conv1.result.privacy.scores == blur.result.privacy.scores == alone[0].result.privacy.scores
    assert conv1.result.utility.test_accuracy == alone[0].result.utility.test_accuracy
    assert conv1.camera is not None and blur.camera is None
    assert (tmp_path / "row-conv1_unlearned-seed1.pt").exists()
    lines = table1.plan_lines(table1.table_tasks(rows, profile, (0,)), cache)
    assert ("done    cost  0.0  row-conv1_unlearned-seed0 (the result of row-blur, encoders "
            "checked)") in lines
    assert [task[0] for task in table1.table_tasks(rows[1:], profile, (0,))] == ["row"]


def test_a_row_whose_encoder_differs_from_its_declared_source_is_evaluated_itself(monkeypatch):
    """If the encoders do not agree (here: max-pooling declared the same as blur), the row is
    evaluated as usual, in workers or not, and gets its own numbers."""
    import dataclasses

    monkeypatch.setattr(table1_tasks, "SAME_ENCODER", {"mp_unlearned": "blur"})  # read there
    by_key = {row.key: row for row in table1.ROWS}
    profile = dataclasses.replace(TINY, blur_sigmas_px=(), pixelate_blocks=())
    kwargs = dict(seeds=(0,), attacks=("logistic",), progress=False)
    alone, _ = table1.run_table1(tiny_splits(), profile, rows=[by_key["mp_unlearned"]], **kwargs)
    seen = _evaluations(monkeypatch)
    blur, mp = table1.run_table1(tiny_splits(), profile,
                                 rows=[by_key["blur"], by_key["mp_unlearned"]], **kwargs)[0]
    assert seen == ["blur seed 0", "mp_unlearned seed 0"]
    assert mp.result.privacy.scores == alone[0].result.privacy.scores != blur.result.privacy.scores
