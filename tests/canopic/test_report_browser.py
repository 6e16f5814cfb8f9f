"""Opt-in (pytest -m browser; ``make test-browser``): reports open in headless Chromium.

Needs /usr/bin/chromium (Debian package 'chromium'). The demo-style page is built from synthetic
stage results (tests/canopic/test_report.py), or is the report.html of the run folder named by
CANOPIC_REPORT_RUN (e.g. ``runs/demo``). A full-page screenshot is saved to the folder named by
CANOPIC_SCREENSHOT_DIR (else the test's tmp folder) and its path printed."""
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from canopic.app.report import Report

pytestmark = pytest.mark.browser

_CHECK = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images).map(function (img) {
    return {alt: img.alt, complete: img.complete, natural: img.naturalWidth,
            shown: img.getBoundingClientRect().width};
  });
  var out = document.createElement('pre');
  out.id = 'canopic-check';
  var scrolled = Array.prototype.slice.call(document.querySelectorAll('.scroll')).filter(
    function (box) { return box.scrollWidth > box.clientWidth + 1; }).map(
    function (box) { return box.textContent.slice(0, 60); });
  out.textContent = JSON.stringify({images: images, scrolled: scrolled,
                                    width: document.documentElement.scrollWidth,
                                    height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def _browser():
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium; make test-browser)")
    return browser


def _chromium(browser, profile, *arguments, timeout=120):
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1", f"--user-data-dir={profile}",
         *arguments], check=True, timeout=timeout, capture_output=True, text=True)


def _figure(path, colour):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.imshow(np.full((10, 10, 3), colour, dtype=float))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def test_report_renders_every_figure(tmp_path):
    browser = _browser()
    colours = [(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)]
    report = Report("browser check")
    section = report.section("Figures")
    for i, colour in enumerate(colours):
        _figure(tmp_path / f"f{i}.png", colour)
        section.figure(tmp_path / f"f{i}.png", f"figure {i}")
    page = report.write(tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    _chromium(browser, tmp_path / "profile", "--window-size=1200,1200", f"--screenshot={shot}",
              page.resolve().as_uri())
    import cv2

    image = cv2.imread(str(shot))[:, :, ::-1].astype(int)
    red = (image[..., 0] > 200) & (image[..., 1] < 60) & (image[..., 2] < 60)
    blue = (image[..., 2] > 200) & (image[..., 0] < 60) & (image[..., 1] < 60)
    assert red.sum() > 5000 and blue.sum() > 5000, "an embedded figure was not drawn"


class _Links(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.hrefs, self.srcs = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if attrs.get("src"):
            self.srcs.append(attrs["src"])


def _demo_page(tmp_path) -> Path:
    """The run folder whose report.html is checked: CANOPIC_REPORT_RUN, or a synthetic one."""
    named = os.environ.get("CANOPIC_REPORT_RUN")
    if named:
        folder = Path(named)
        assert (folder / "report.html").is_file(), f"CANOPIC_REPORT_RUN: no report.html in {folder}"
        # a copy somewhere else: relative links must survive the move
        return Path(shutil.copytree(folder, tmp_path / "moved", ignore=shutil.ignore_patterns(
            "*.pt", "board_flash")))
    from tests.canopic.test_report import write

    folder = write(tmp_path / "written" / "run")
    return Path(shutil.move(str(folder), str(tmp_path / "moved")))


def test_demo_report_in_chromium_draws_every_figure_and_links_resolve(tmp_path, capsys):
    browser = _browser()
    folder = _demo_page(tmp_path)
    html = (folder / "report.html").read_text()
    links = _Links(html)
    # every image is embedded; every link is relative and resolves inside the (moved) folder
    assert links.srcs and all(src.startswith("data:image/png;base64,") for src in links.srcs)
    for href in links.hrefs:
        assert not re.match(r"^[a-z]+:|^/", href), f"not a relative link: {href}"
        target = (folder / href).resolve()
        assert target.exists() and folder.resolve() in (target, *target.parents), href
    # the browser's own account: every <img> decoded, none shrunk out of legibility
    checked = folder / "report.check.html"
    checked.write_text(html.replace("</body>", _CHECK + "</body>"))
    dom = _chromium(browser, tmp_path / "profile", "--window-size=1280,900",
                    "--virtual-time-budget=10000", "--dump-dom", checked.resolve().as_uri()).stdout
    found = re.search(r"<pre id=\"canopic-check\">(.*?)</pre>", dom, re.S)
    assert found, "the page's load handler did not run"
    state = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&")
                       .replace("&lt;", "<").replace("&gt;", ">"))
    images = state["images"]
    assert len(images) == len(links.srcs)
    missing = [image["alt"] for image in images if not image["complete"] or image["natural"] == 0]
    assert not missing, f"images not drawn: {missing}"
    shrunk = [image["alt"] for image in images if image["shown"] < 0.75 * image["natural"]]
    assert not shrunk, f"figures shown at under 75 % of their size (labels too small): {shrunk}"
    assert state["width"] <= 1280, "the page scrolls sideways at 1280 px"
    assert not state["scrolled"], f"tables wider than the page: {state['scrolled']}"
    # a full-page screenshot to look at
    out = Path(os.environ.get("CANOPIC_SCREENSHOT_DIR") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "report_screenshot.png"
    height = min(int(state["height"]) + 40, 16000)
    _chromium(browser, tmp_path / "profile", f"--window-size=1280,{height}",
              f"--screenshot={shot}", (folder / "report.html").resolve().as_uri())
    assert shot.is_file() and shot.stat().st_size > 10000
    with capsys.disabled():
        print(f"\nreport screenshot: {shot} (1280 x {height} px)")
