"""report.html of a toy run: every section, embedded figures, provenance with input hashes."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from belleflow.report import write_report

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]*)">')


def test_report_of_a_blinded_run(make_run) -> None:
    run_dir = make_run(experiment="Belle", blinded=True, validation=True)
    path = write_report(run_dir)
    assert path == run_dir / "report.html"
    html = path.read_text()
    images = IMG.findall(html)
    # spectrum, plane, efficiency, resolution, Brazil plot, the validation figure
    assert len(images) == 6 == html.count("<img ")
    for data, _ in images:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    # Self-contained: nothing to fetch.
    assert "http://" not in html
    assert "https://" not in html
    for text in (
        "Spectra",
        "Cutflow",
        "Signal efficiency and resolution",
        "Limits",
        "Validation",
        "Provenance",
        "toy dimuon search",
    ):
        assert text in html
    assert ">Belle<" in html
    assert "Blinded: expected limits only" in html
    assert 'class="badge blinded"' in html
    # Validation results: the checks and their outcome.
    assert re.search(r"injection: closure</td>\s*<td class=\"text pass\">pass", html)
    assert re.search(r"background-only: pulls</td>\s*<td class=\"text fail\">fail", html)
    assert "mean pull within 0.2 (value 0.4)" in html
    assert 'Validation of zp:\n<span class="fail">fail</span>' in html
    # Provenance: the run's revision, catalogue hash and every input file's SHA-256.
    report = json.loads((run_dir / "toy_mumu" / "report.json").read_text())
    assert "0123456789abcdef" in html
    assert "ab" * 32 in html
    for name in report["files"]:
        assert hashlib.sha256(Path(name).read_bytes()).hexdigest() in html
    # The cutflow: processes with readable names, data blank in the signal region.
    assert (
        "\N{GREEK SMALL LETTER MU}<sup>+</sup>\N{GREEK SMALL LETTER MU}<sup>-</sup>(\N{GREEK SMALL LETTER GAMMA})"
        in html
    )
    assert re.search(r'<tr class="data"><td class="text">Data</td>\s*<td>2,000</td>', html)


def test_report_of_an_unblinded_lifetime_scan(make_run) -> None:
    run_dir = make_run(blinded=False, lifetimes=(0.0, 2.5))
    html = write_report(run_dir).read_text()
    captions = [alt for _, alt in IMG.findall(html)]
    assert "Local significance" in captions
    assert "Median expected limit over mass and lifetime" in captions
    assert any("2.5 cm" in c for c in captions)
    assert "Largest local excess 1.70\N{GREEK SMALL LETTER SIGMA} at 1.9 GeV" in html
    assert "Not validated" in html


def test_missing_run_is_a_one_line_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such run folder"):
        write_report(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty: no channel outputs"):
        write_report(tmp_path / "empty")
