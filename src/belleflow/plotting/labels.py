"""Every human-readable label of belleflow's figures and report, in one place.

Channels, signal models, couplings and processes have code names
(``zprime_lmu_ltau``, ``coupling:alpha_D_eps2``, ``eemumu``); figures and the
report show these labels instead. A code name without an entry falls back
to itself, so a new model is labelled (plainly) before it is added here.

Examples:
    >>> signal_title("dark_higgsstrahlung_ap0p3")
    "Dark Higgs $h' \\\\to A'A'$, $m_{A'}$ = 0.3 GeV"
    >>> unit_label("coupling:g_agg")
    '$g_{a\\\\gamma\\\\gamma}$ [GeV$^{-1}$]'
    >>> ctau_tag(2.5), ctau_text(2.5)
    ('ctau2.5cm', '$c\\\\tau$ = 2.5 cm')
    >>> luminosity_label(0.0107)
    '10.7 pb$^{-1}$'
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

__all__ = [
    "SignalLabel",
    "ctau_tag",
    "ctau_text",
    "ecms_label",
    "html_label",
    "luminosity_label",
    "mass_axis_label",
    "process_label",
    "signal_label",
    "signal_title",
    "unit_label",
]


@dataclass(frozen=True)
class SignalLabel:
    """How to write a signal model: its particle (mathtext, no ``$``), a title,
    and the model parameter that is not scanned (e.g. the A' mass), if any."""

    particle: str
    title: str
    parameter: str = ""


_SIGNALS: dict[str, SignalLabel] = {
    "zprime_lmu_ltau": SignalLabel("Z'", r"$Z'$ of $L_\mu - L_\tau$, $Z' \to \mu^+\mu^-$"),
    "muonphilic_scalar": SignalLabel("S", r"Muonphilic scalar $S \to \mu^+\mu^-$"),
    "zprime_mumu_tautau": SignalLabel("Z'", r"$Z'$ of $L_\mu - L_\tau$, $Z' \to \tau^+\tau^-$"),
    "scalar_mumu_tautau": SignalLabel("S", r"Leptophilic scalar $S \to \tau^+\tau^-$"),
    "leptophilic_scalar": SignalLabel(r"\phi_L", r"Leptophilic scalar $\phi_L \to \ell^+\ell^-$"),
    "alp_photon": SignalLabel("a", r"Axion-like particle $a \to \gamma\gamma$"),
}
# One model per A' mass: dark_higgsstrahlung_ap0p3 is m(A') = 0.3 GeV.
_DARK_HIGGS = re.compile(r"^dark_higgsstrahlung_ap(?P<mass>[0-9p]+)$")

_COUPLINGS = {
    "g_prime": "$g'$",
    "xi": r"$\xi$",
    "theta": r"$\theta$",
    "V_Ntau2": r"$|V_{N\tau}|^2$",
    "g_aW": r"$g_{aW}$ [GeV$^{-1}$]",
    "g_agg": r"$g_{a\gamma\gamma}$ [GeV$^{-1}$]",
    "alpha_D_eps2": r"$\alpha_D\,\varepsilon^2$",
}

_PROCESSES = {
    "data": "Data",
    "mumu": r"$\mu^+\mu^-(\gamma)$",
    "ee": r"$e^+e^-(\gamma)$",
    "gg": r"$\gamma\gamma(\gamma)$",
    "tautau": r"$\tau^+\tau^-(\gamma)$",
    "eeee": r"$e^+e^-e^+e^-$",
    "eemumu": r"$e^+e^-\mu^+\mu^-$",
    "eetautau": r"$e^+e^-\tau^+\tau^-$",
    "mumumumu": r"$\mu^+\mu^-\mu^+\mu^-$",
    "mumutautau": r"$\mu^+\mu^-\tau^+\tau^-$",
    "ggHadronic": r"$e^+e^-h$ (two-photon)",
    "uubar": r"$u\bar{u}$",
    "ddbar": r"$d\bar{d}$",
    "ssbar": r"$s\bar{s}$",
    "ccbar": r"$c\bar{c}$",
    "BBcharged": r"$B^+B^-$",
    "BBmixed": r"$B^0\bar{B}^0$",
}


def signal_label(model: str) -> SignalLabel:
    """Particle and title of a signal model (the code name itself when unknown).

    Examples:
        >>> signal_label("zprime_lmu_ltau").particle
        "Z'"
        >>> signal_label("my_new_model")
        SignalLabel(particle='X', title='my_new_model', parameter='')
    """
    if model in _SIGNALS:
        return _SIGNALS[model]
    match = _DARK_HIGGS.match(model)
    if match:
        mass = match["mass"].replace("p", ".")
        parameter = rf"$m_{{A'}}$ = {mass} GeV"
        return SignalLabel("h'", rf"Dark Higgs $h' \to A'A'$, {parameter}", parameter)
    return SignalLabel("X", model)


def signal_title(model: str) -> str:
    """Readable title of a signal model, e.g. ``$Z'$ of $L_\\mu - L_\\tau$ ...``."""
    return signal_label(model).title


def mass_axis_label(model: str) -> str:
    """Mass axis of a scan over ``model``: ``"$m_{Z'}$ [GeV]"``.

    Examples:
        >>> mass_axis_label("leptophilic_scalar")
        '$m_{\\\\phi_L}$ [GeV]'
    """
    return f"$m_{{{signal_label(model).particle}}}$ [GeV]"


def unit_label(units: str) -> str:
    """Quantity a limit is set on, for ``StatModel.units`` (matplotlib mathtext).

    Examples:
        >>> unit_label("sigma_B_fb")
        '$\\\\sigma \\\\times \\\\mathcal{B}$ [fb]'
        >>> unit_label("coupling:alpha_D_eps2")
        '$\\\\alpha_D\\\\,\\\\varepsilon^2$'
    """
    if units == "sigma_B_fb":
        return r"$\sigma \times \mathcal{B}$ [fb]"
    if units == "branching_fraction":
        return r"$\mathcal{B}$"
    name = units.split(":", 1)[-1]
    return _COUPLINGS.get(name, name)


def process_label(process: str) -> str:
    """Legend entry of a background process (or ``"Data"``).

    Examples:
        >>> process_label("eemumu")
        '$e^+e^-\\\\mu^+\\\\mu^-$'
    """
    return _PROCESSES.get(process, process)


def _number(value: float) -> str:
    return f"{value:g}"


def ctau_tag(ctau: float) -> str:
    """A lifetime in a file name, with its unit: ``ctau2.5cm`` (``ctau0cm`` is prompt).

    Examples:
        >>> ctau_tag(0.0), ctau_tag(10.0), ctau_tag(0.05)
        ('ctau0cm', 'ctau10cm', 'ctau0.05cm')
    """
    return f"ctau{_number(ctau)}cm"


def ctau_text(ctau: float) -> str:
    """A lifetime in a title: ``$c\\tau$ = 2.5 cm``, or ``prompt``."""
    return "prompt" if ctau == 0 else rf"$c\tau$ = {_number(ctau)} cm"


def luminosity_label(luminosity_fb: float | None) -> str:
    """``"362 fb$^{-1}$"``, or pb^-1 below 1 fb^-1 (the demo's small fractions).

    Examples:
        >>> luminosity_label(362.0)
        '362 fb$^{-1}$'
        >>> luminosity_label(None)
        ''
    """
    if not luminosity_fb:
        return ""
    if luminosity_fb >= 1.0:
        return f"{luminosity_fb:.3g} fb$^{{-1}}$"
    return f"{luminosity_fb * 1e3:.3g} pb$^{{-1}}$"


def ecms_label(ecms: list[float]) -> str:
    """Centre-of-mass energies: ``"√s = 10.58 GeV"`` (a range for several).

    The root is a plain character: mathtext's radical is missing from the style's font.

    Examples:
        >>> ecms_label([10.58, 10.58])
        '√s = 10.58 GeV'
        >>> ecms_label([10.52, 10.58])
        '√s = 10.52-10.58 GeV'
        >>> ecms_label([])
        ''
    """
    if not ecms:
        return ""
    low, high = min(ecms), max(ecms)
    values = f"{low:.4g}" if low == high else f"{low:.4g}-{high:.4g}"
    return f"\u221as = {values} GeV"


_HTML_SYMBOLS = {
    r"\mu": "\N{GREEK SMALL LETTER MU}",
    r"\tau": "\N{GREEK SMALL LETTER TAU}",
    r"\gamma": "\N{GREEK SMALL LETTER GAMMA}",
    r"\ell": "\N{SCRIPT SMALL L}",
    r"\phi": "\N{GREEK SMALL LETTER PHI}",
    r"\alpha": "\N{GREEK SMALL LETTER ALPHA}",
    r"\varepsilon": "\N{GREEK SMALL LETTER EPSILON}",
    r"\sigma": "\N{GREEK SMALL LETTER SIGMA}",
    r"\xi": "\N{GREEK SMALL LETTER XI}",
    r"\theta": "\N{GREEK SMALL LETTER THETA}",
    r"\times": "\N{MULTIPLICATION SIGN}",
    r"\to": "\N{RIGHTWARDS ARROW}",
    r"\pm": "\N{PLUS-MINUS SIGN}",
    r"\mathcal{B}": "B",
    r"\,": " ",
    r"\ ": " ",
    r"\_": "_",
}
_SCRIPT = re.compile(r"([_^])(\{[^{}]*\}|.)")
_BAR = re.compile(r"\\bar\{([^{}]*)\}")


def html_label(label: str) -> str:
    """A mathtext label as HTML (escaped), for the report's tables.

    Examples:
        >>> html_label(r"$e^+e^-\\mu^+\\mu^-$")
        'e<sup>+</sup>e<sup>-</sup>μ<sup>+</sup>μ<sup>-</sup>'
        >>> html_label(r"$m_{A'}$ = 0.3 GeV")
        "m<sub>A'</sub> = 0.3 GeV"
        >>> html_label("a < b")
        'a &lt; b'
    """
    out = []
    for i, part in enumerate(label.split("$")):
        out.append(_math_html(part) if i % 2 else html.escape(part, quote=False))
    return "".join(out)


def _math_html(math: str) -> str:
    """The inside of one ``$...$``: symbols, bars, sub- and superscripts."""
    # Longest symbols first, so that \mathcal{B} is not read as \ma...
    for symbol in sorted(_HTML_SYMBOLS, key=len, reverse=True):
        math = math.replace(symbol, _HTML_SYMBOLS[symbol])
    math = html.escape(_BAR.sub(lambda m: m[1] + "\u0304", math), quote=False)

    def script(match: re.Match[str]) -> str:
        tag = "sub" if match[1] == "_" else "sup"
        return f"<{tag}>{match[2].strip('{}')}</{tag}>"

    return _SCRIPT.sub(script, math).replace("{", "").replace("}", "")
