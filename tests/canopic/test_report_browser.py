"""Opt-in (pytest -m browser): the single-file report opens in headless Chromium and every
embedded figure is drawn. Needs /usr/bin/chromium (Debian package 'chromium')."""
import shutil
import subprocess

import numpy as np
import pytest

from canopic.app.report import Report

pytestmark = pytest.mark.browser


def _figure(path, colour):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.full((10, 10, 3), colour, dtype=float))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def test_report_renders_every_figure(tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    colours = [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    report = Report("browser check")
    section = report.section("Figures")
    for i, colour in enumerate(colours):
        _figure(tmp_path / f"f{i}.png", colour)
        section.figure(tmp_path / f"f{i}.png", f"figure {i}")
    page = report.write(tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1200",
                    f"--screenshot={shot}", page.resolve().as_uri()], check=True, timeout=120,
                   capture_output=True)
    import cv2

    image = cv2.imread(str(shot))[:, :, ::-1].astype(int)
    red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
    blue = (image[..., 2] > 200) & (image[..., 0] < 60) & (image[..., 1] < 60)
    assert red.sum() > 5000 and blue.sum() > 5000, "an embedded figure was not drawn"
