"""`pip install .` gives a working tool: the wheel carries the bundled data, and the installed
copy simulates and trains from a folder outside the checkout with CANOPIC_DATA unset.

The wheel is built offline (``--no-build-isolation``) from a copy of the source tree (the
checkout's build/ stays untouched) and installed into a fresh venv without its dependencies;
that venv then reaches torch and the rest through a .pth line naming this interpreter's
site-packages (a plain path line: the editable install's finder there is not run, so the
checkout cannot leak in; the test checks where every package is imported from).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT_PACKAGES = ("canopic", "optics", "sensor", "analog", "learn", "hil")
#: What the wheel build reads besides the packages (every top-level file is copied too).
SOURCE_DIRS = (*PROJECT_PACKAGES, "data")
#: The files of data/ that must ship (build scripts need not).
DATA_PATTERNS = ("*.npz", "*.md", "*.json")


def run(command, cwd, env=None, timeout=300):
    result = subprocess.run([str(c) for c in command], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, (f"{command} failed ({result.returncode}):\n"
                                    f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def bundled_files() -> "set[str]":
    return {path.relative_to(ROOT / "data").as_posix() for pattern in DATA_PATTERNS
            for path in (ROOT / "data").rglob(pattern)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"building a wheel offline needs {module} in this interpreter")
    source = tmp_path_factory.mktemp("source")
    for entry in ROOT.iterdir():
        if entry.is_file():
            shutil.copy2(entry, source / entry.name)
    for name in SOURCE_DIRS:
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.part.*"))
    out = tmp_path_factory.mktemp("wheelhouse")
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", out], cwd=source)
    shutil.rmtree(source)  # about 50 MB each: keep pytest's retained temp folders small
    wheels = list(out.glob("canopic-*.whl"))
    assert len(wheels) == 1, wheels
    yield wheels[0]
    shutil.rmtree(out)


def test_wheel_carries_the_bundled_data(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    shipped = {name[len("canopic_data/"):] for name in names if name.startswith("canopic_data/")}
    missing = sorted(bundled_files() - shipped)
    assert not missing, f"data files missing from {wheel.name}: {missing}"
    assert {"faces64_wide.npz", "nonfaces64.npz", "lfw/lfw64_wide.npz",
            "reference_encoders/Learned_Conv1_Maxpool_Quantize_alpha1.npz"} <= shipped
    for package in PROJECT_PACKAGES:
        assert f"{package}/__init__.py" in names


def test_installed_wheel_simulates_and_trains_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp_path)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    # install before the .pth exists, so pip does not see the development install beside it
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "-q", wheel], cwd=tmp_path)
    purelib = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                       cwd=tmp_path).strip())
    ours = {Path(p) for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    ours |= {Path(p) for p in sys.path if Path(p).name in ("site-packages", "dist-packages")}
    (purelib / "zz_dependencies_of_the_test_interpreter.pth").write_text(
        "".join(f"{p}\n" for p in sorted(ours)))

    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("CANOPIC_DATA", "PYTHONPATH")}
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    where = json.loads(run([python, "-c", (
        "import json, canopic, optics, sensor, analog, learn, hil\n"
        "from canopic.core.paths import data_dir\n"
        "print(json.dumps({m.__name__: m.__file__ for m in (canopic, optics, sensor, analog, "
        "learn, hil)} | {'data': str(data_dir())}))")], cwd=work, env=env))
    for name, path in where.items():
        assert Path(path).resolve().is_relative_to(purelib.resolve()), (name, path, "not installed")
        assert not Path(path).resolve().is_relative_to(ROOT), (name, path, "from the checkout")
    assert Path(where["data"]).resolve() == (purelib / "canopic_data").resolve()

    canopic = bin_dir / ("canopic.exe" if os.name == "nt" else "canopic")
    run([canopic, "simulate", "--out", "sim"], cwd=work, env=env)  # a bundled face and no-face
    with np.load(work / "sim" / "codes.npz", allow_pickle=False) as codes:
        assert codes["codes"].shape[0] == 2
    assert (work / "sim" / "fig4.png").is_file()

    run([python, "-c", "import json; from learn.runs import smoke_config; "
         "open('smoke.json', 'w').write(json.dumps(smoke_config().to_dict()))"], cwd=work, env=env)
    run([canopic, "train", "--config", "smoke.json", "--out", "run", "--quiet", "--threads", "1"],
        cwd=work, env=env)
    design = work / "run" / "design"
    assert {p.name for p in design.iterdir()} >= {"psf.npz", "thresholds.npz", "design.json"}
    shutil.rmtree(venv)
