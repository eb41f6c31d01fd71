"""The report in a real headless Chromium: it loads, every image decodes, it is not blank.

Needs Debian's ``chromium`` (``.ci/run`` installs it); selected with ``-m browser``.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from belleflow.report import write_report

pytestmark = pytest.mark.browser

# Appended to a copy of the page: after the load event, record every image's state.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const result = {
    title: document.title,
    images: images.length,
    broken: images.filter((i) => !(i.complete && i.naturalWidth > 0)).map((i) => i.alt),
    widths: images.map((i) => i.naturalWidth),
  };
  const out = document.createElement("pre");
  out.id = "belleflow-probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("no chromium on PATH: install Debian's chromium (see .ci/run)")
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def test_report_loads_with_every_image_decoded(make_run, tmp_path) -> None:
    page = write_report(make_run(blinded=False, lifetimes=(0.0, 2.5), validation=True))
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chromium(tmp_path, "--virtual-time-budget=20000", "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'<pre id="belleflow-probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, "the page did not finish loading"
    result = json.loads(html.unescape(found[1]))
    assert result["title"] == "belleflow report: run"
    assert result["images"] == page.read_text().count("<img ") >= 9
    assert result["broken"] == []
    assert min(result["widths"]) > 100


def test_report_screenshot_is_not_blank(make_run, tmp_path) -> None:
    page = write_report(make_run(blinded=True))
    shot = tmp_path / "shot.png"
    _chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1280)
    not_white = np.any(pixels < 0.9, axis=-1).mean()
    assert not_white > 0.05, f"only {not_white:.1%} of the screenshot is not white"
    assert len(np.unique((pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 100
