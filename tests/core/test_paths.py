"""The data resolver's order: $CANOPIC_DATA > the installed package canopic_data > the checkout."""
import os
from pathlib import Path

import pytest

from canopic.core import paths


def data_folder(root: Path) -> Path:
    """A stand-in data folder: what the resolver looks for (a bundled .npz, reference_encoders/)."""
    (root / "reference_encoders").mkdir(parents=True)
    (root / "faces64_wide.npz").write_bytes(b"")
    return root


@pytest.fixture()
def places(tmp_path, monkeypatch):
    """Installed and checkout folders under tmp_path, $CANOPIC_DATA unset."""
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    installed, checkout = data_folder(tmp_path / "installed"), data_folder(tmp_path / "checkout")
    monkeypatch.setattr(paths, "installed_data_dir", lambda: installed)
    monkeypatch.setattr(paths, "checkout_data_dir", lambda: checkout)
    return installed, checkout


def test_env_var_comes_first(places, tmp_path, monkeypatch):
    mine = data_folder(tmp_path / "mine")
    monkeypatch.setenv(paths.ENV_VAR, str(mine))
    assert paths.data_dir() == mine
    assert paths.reference_encoder_dir() == mine / "reference_encoders"
    assert paths.lfw_dir() == mine / "lfw"


def test_installed_copy_before_checkout(places, monkeypatch):
    installed, checkout = places
    assert paths.data_dir() == installed
    monkeypatch.setenv(paths.ENV_VAR, "")  # empty counts as unset
    assert paths.data_dir() == installed
    monkeypatch.setattr(paths, "installed_data_dir", lambda: None)
    assert paths.data_dir() == checkout


def test_installed_copy_without_data_falls_back_to_checkout(places, tmp_path, monkeypatch):
    empty = tmp_path / "empty_install"
    empty.mkdir()
    monkeypatch.setattr(paths, "installed_data_dir", lambda: empty)
    assert paths.data_dir() == places[1]


@pytest.mark.parametrize("kind", ["missing", "file", "empty"])
def test_bad_env_var_is_an_error_naming_it(places, tmp_path, monkeypatch, kind):
    bad = tmp_path / "bad"
    if kind == "file":
        bad.write_text("not a folder")
    elif kind == "empty":
        bad.mkdir()
    monkeypatch.setenv(paths.ENV_VAR, str(bad))
    with pytest.raises(FileNotFoundError) as error:
        paths.data_dir()  # no silent fallback to the installed copy
    message = str(error.value)
    assert f"CANOPIC_DATA={str(bad)!r}" in message
    assert {"missing": "does not exist", "file": "is not a folder", "empty": "holds none of"}[kind] in message


def test_nothing_found_names_every_place(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    monkeypatch.setattr(paths, "installed_data_dir", lambda: None)
    monkeypatch.setattr(paths, "checkout_data_dir", lambda: tmp_path / "data")
    with pytest.raises(FileNotFoundError) as error:
        paths.data_dir()
    message = str(error.value)
    for place in ("$CANOPIC_DATA (not set)", "'canopic_data' (not installed)", str(tmp_path / "data")):
        assert place in message


def test_installed_package_is_found_on_sys_path(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    package = data_folder(site / "canopic_data")
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv(paths.ENV_VAR, raising=False)
    assert paths.installed_data_dir() == package.resolve()
    assert paths.data_dir() == package.resolve()


def test_this_checkout_resolves_to_its_data():
    """In the development set-up (editable install or none) the data are the checkout's data/."""
    if os.environ.get(paths.ENV_VAR):
        pytest.skip("CANOPIC_DATA is set")
    root = Path(__file__).resolve().parents[2]
    assert paths.data_dir() == (root / "data").resolve()
    assert (paths.reference_encoder_dir() / "Learned_Conv4_Maxpool_Quantize_alpha1.npz").is_file()
