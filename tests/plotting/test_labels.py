"""Readable labels for every code name the registered channels use."""

from __future__ import annotations

import pytest

from belleflow.channels import available_channels, load_channel
from belleflow.limits.api import resolve_models
from belleflow.plotting.labels import (
    ctau_tag,
    ctau_text,
    html_label,
    luminosity_label,
    mass_axis_label,
    signal_title,
    unit_label,
)

MODELS = [
    model
    for info in available_channels()
    for model in resolve_models(load_channel(info.name)).values()
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.signal_model)
def test_every_registered_model_has_readable_labels(model) -> None:
    assert model.signal_model not in signal_title(model.signal_model)
    assert mass_axis_label(model.signal_model) != "$m_{X}$ [GeV]"
    # Known units are mathtext; an unknown code name would come back as itself.
    assert unit_label(model.units).startswith("$")


def test_lifetimes_carry_their_unit() -> None:
    assert ctau_tag(2.5) == "ctau2.5cm"
    assert ctau_tag(0.0) == "ctau0cm"
    assert ctau_text(2.5) == r"$c\tau$ = 2.5 cm"
    assert ctau_text(0.0) == "prompt"


def test_luminosity_switches_to_inverse_picobarn() -> None:
    assert luminosity_label(0.0107) == "10.7 pb$^{-1}$"
    assert luminosity_label(711.0) == "711 fb$^{-1}$"


def test_html_label_escapes_and_renders_scripts() -> None:
    assert html_label(r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]") == (
        "g<sub>a\N{GREEK SMALL LETTER GAMMA}\N{GREEK SMALL LETTER GAMMA}</sub> [GeV<sup>-1</sup>]"
    )
    assert html_label("<script>") == "&lt;script&gt;"
    assert html_label(r"$u\bar{u}$") == "uu\u0304"
