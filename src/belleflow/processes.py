"""Physics processes at the B factories: the one place for cross sections.

Every cross section belleflow uses lives in :data:`PROCESSES`. Measured or
computed values come from the Belle II Physics Book (E. Kou et al., PTEP 2019
123C01, arXiv:1808.10567), table "Total production cross-sections from various
physics processes from collisions at sqrt(s) = 10.58 GeV" (Sec. 3). Processes
that table does not give are *estimates*, flagged with ``estimate=True``; their
``source`` string says how they were obtained. See ``docs/catalogue.md``.

Cross sections are nominal values at sqrt(s) = 10.58 GeV.
:meth:`Process.cross_section_at` moves them to another centre-of-mass energy
with a deliberately simple model (documented there).

Examples:
    >>> from belleflow.processes import get_process
    >>> get_process("mumu").cross_section_nb
    1.148
    >>> get_process("BBmixed").cross_section_at(10.52)
    0.0
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "NOMINAL_ECMS",
    "PROCESSES",
    "Family",
    "Process",
    "UnknownProcessError",
    "get_process",
    "pair_threshold",
]

#: Centre-of-mass energy (GeV) at which the cross sections of :data:`PROCESSES` hold.
NOMINAL_ECMS = 10.58

#: How a process depends on the centre-of-mass energy (see :meth:`Process.cross_section_at`).
Family = Literal["qed", "two_photon", "continuum", "bbbar"]

_BOOK = "Belle II Physics Book, arXiv:1808.10567, Sec. 3, table of total production cross sections"


class UnknownProcessError(KeyError):
    """A process name that is not in :data:`PROCESSES`."""

    def __str__(self) -> str:
        """The plain message (``KeyError`` would show its repr)."""
        return str(self.args[0]) if self.args else ""


@functools.cache
def pair_threshold(pdgid: int) -> float:
    """Twice the mass of a particle in GeV (a pair-production threshold).

    Args:
        pdgid: PDG identifier, e.g. 521 for B+ or 511 for B0.

    Returns:
        ``2 m`` in GeV, from the ``particle`` package (PDG tables).
    """
    from particle import Particle  # noqa: PLC0415 - keep `import belleflow.processes` light

    mass_mev = Particle.from_pdgid(pdgid).mass
    if mass_mev is None:  # pragma: no cover - all pdgids used here have masses
        msg = f"particle {pdgid} has no mass in the PDG tables"
        raise ValueError(msg)
    return 2.0 * float(mass_mev) / 1000.0


@dataclass(frozen=True)
class Process:
    """A physics process with its production cross section.

    Attributes:
        name: Key of the process (``mumu``, ``BBmixed``, ...), used by the catalogue.
        cross_section_nb: Cross section in nb at sqrt(s) = :data:`NOMINAL_ECMS`,
            including the generator-level cuts stated in ``description``.
        source: Where the number comes from (paper, table), or how it was estimated.
        family: Energy dependence: ``qed`` and ``continuum`` scale as 1/s,
            ``two_photon`` is taken as constant, ``bbbar`` is zero below the
            B-pair threshold.
        description: Final state and generator-level cuts.
        estimate: True if the number is an estimate rather than a published value.
        threshold_pdgid: For ``bbbar`` processes, the PDG id of the produced
            meson; the process vanishes below twice its mass.
    """

    name: str
    cross_section_nb: float
    source: str
    family: Family
    description: str
    estimate: bool = False
    threshold_pdgid: int | None = None

    @property
    def cross_section_fb(self) -> float:
        """Nominal cross section in fb (1 nb = 10^6 fb)."""
        return self.cross_section_nb * 1.0e6

    @property
    def threshold(self) -> float:
        """Production threshold in GeV (0 when there is none that matters here)."""
        return 0.0 if self.threshold_pdgid is None else pair_threshold(self.threshold_pdgid)

    def cross_section_at(self, ecms: float) -> float:
        """Cross section in nb at another centre-of-mass energy (an approximation).

        The model is deliberately simple and meant for bookkeeping near the
        Upsilon resonances (9.4-11 GeV), not for precision:

        * ``bbbar`` (B Bbar from the Upsilon(4S)): zero below the B-pair
          threshold ``2 m_B`` (off-resonance data have no B pairs); above it,
          the Upsilon(4S) value. Above the Upsilon(4S) (e.g. the Upsilon(5S) at
          10.867 GeV) the real b bbar cross section is smaller (about 0.3 nb) and
          includes B*, B_s pairs: do not use these processes there.
        * ``qed`` (s-channel or fixed-angle QED: mu mu, tau tau, Bhabha within a
          fixed angular range, gamma gamma, pair emission) and ``continuum``
          (q qbar): scale as 1/s from 10.58 GeV.
        * ``two_photon`` (e+e- -> e+e- X): kept constant, since the
          cross section grows only logarithmically with s.

        Args:
            ecms: Centre-of-mass energy in GeV.

        Returns:
            Cross section in nb.

        Raises:
            ValueError: If ``ecms`` is not positive.
        """
        if ecms <= 0:
            msg = f"centre-of-mass energy must be positive, got {ecms} GeV"
            raise ValueError(msg)
        if self.family == "bbbar":
            return self.cross_section_nb if ecms >= self.threshold else 0.0
        if self.family == "two_photon":
            return self.cross_section_nb
        return self.cross_section_nb * (NOMINAL_ECMS / ecms) ** 2


#: B+B- : B0B0bar fraction at the Upsilon(4S) (physics.md: about 51.4 : 48.6).
_F_CHARGED = 0.514
_SIGMA_BB = 1.11

_ALL = (
    Process(
        "mumu",
        1.148,
        _BOOK,
        "qed",
        "e+e- -> mu+mu-(gamma), KKMC",
    ),
    Process(
        "ee",
        300.0,
        f"{_BOOK} (about 300 nb)",
        "qed",
        "e+e- -> e+e-(gamma) (Bhabha), BabaYaga@NLO, within 10 deg < theta* < 170 deg "
        "and E* > 0.15 GeV in the CM frame; the value depends on these cuts",
    ),
    Process(
        "gg",
        4.99,
        _BOOK,
        "qed",
        "e+e- -> gamma gamma(gamma), BabaYaga@NLO, within the same angular cuts as ee",
    ),
    Process(
        "tautau",
        0.919,
        _BOOK,
        "qed",
        "e+e- -> tau+tau-(gamma), KKMC + TAUOLA",
    ),
    Process(
        "eeee",
        39.7,
        _BOOK,
        "two_photon",
        "e+e- -> e+e-e+e- (two-photon), AAFH, with generator-level cuts",
    ),
    Process(
        "eemumu",
        18.9,
        _BOOK,
        "two_photon",
        "e+e- -> e+e-mu+mu- (two-photon), AAFH, with generator-level cuts",
    ),
    Process(
        "eetautau",
        0.026,
        "estimate: eemumu (18.9 nb) x (m_mu/m_tau)^2 x ln(s/m_tau^2)/ln(s/m_mu^2) "
        "= 18.9 x 3.54e-3 x 0.39 nb, the lepton-mass scaling of two-photon pair production",
        "two_photon",
        "e+e- -> e+e-tau+tau- (two-photon); order-of-magnitude estimate",
        estimate=True,
    ),
    Process(
        "mumumumu",
        3.7e-4,
        "estimate: leading-log pair emission in e+e- -> mu+mu-, "
        "sigma(mumu) x (alpha/pi)^2 x L^3/18 with L = ln(s/m_mu^2) = 9.2, i.e. "
        "1.148 nb x 2.3e-4 = 0.27 pb, raised to 0.37 pb for pairs emitted by the "
        "initial state; not in the Physics Book table (the Belle II 4-muon search, "
        "arXiv:2403.02841, takes this background from simulation)",
        "qed",
        "e+e- -> mu+mu-mu+mu- (annihilation with a radiated muon pair); "
        "order-of-magnitude estimate",
        estimate=True,
    ),
    Process(
        "mumutautau",
        2.0e-5,
        "estimate: mumumumu (0.37 pb) x sigma(tautau)/sigma(mumu) "
        "x [ln(s/m_tau^2)/ln(s/m_mu^2)]^3 = 0.37 pb x 0.80 x 0.058 = 0.017 pb, "
        "rounded up to 0.02 pb for mu pairs radiated by the taus and vice versa",
        "qed",
        "e+e- -> mu+mu-tau+tau-; order-of-magnitude estimate",
        estimate=True,
    ),
    Process(
        "ggHadronic",
        2.0,
        "estimate: two-photon production of hadrons e+e- -> e+e- h+h- (X) with "
        "W(gamma gamma) > 0.5 GeV and two charged hadrons in acceptance, dominated "
        "by pi+pi- (about 1.9 nb) with about 0.1 nb of K+K-, p pbar and more",
        "two_photon",
        "e+e- -> e+e- + hadrons (two-photon); order-of-magnitude estimate",
        estimate=True,
    ),
    Process("uubar", 1.61, _BOOK, "continuum", "e+e- -> u ubar, KKMC + PYTHIA"),
    Process("ddbar", 0.40, _BOOK, "continuum", "e+e- -> d dbar, KKMC + PYTHIA"),
    Process("ssbar", 0.38, _BOOK, "continuum", "e+e- -> s sbar, KKMC + PYTHIA"),
    Process("ccbar", 1.30, _BOOK, "continuum", "e+e- -> c cbar, KKMC + PYTHIA"),
    Process(
        "BBcharged",
        _SIGMA_BB * _F_CHARGED,
        f"{_BOOK}: sigma(Upsilon(4S) -> B Bbar) = 1.11 nb x B+B- fraction 0.514",
        "bbbar",
        "e+e- -> Upsilon(4S) -> B+B-, EvtGen",
        threshold_pdgid=521,
    ),
    Process(
        "BBmixed",
        _SIGMA_BB * (1.0 - _F_CHARGED),
        f"{_BOOK}: sigma(Upsilon(4S) -> B Bbar) = 1.11 nb x B0B0bar fraction 0.486",
        "bbbar",
        "e+e- -> Upsilon(4S) -> B0B0bar (with mixing), EvtGen",
        threshold_pdgid=511,
    ),
)

#: All processes by name.
PROCESSES: dict[str, Process] = {process.name: process for process in _ALL}


def get_process(name: str) -> Process:
    """Look a process up by name.

    Args:
        name: Key in :data:`PROCESSES`.

    Returns:
        The process.

    Raises:
        UnknownProcessError: (a ``KeyError``) If there is no such process; the message lists the known ones
            and suggests close matches.
    """
    try:
        return PROCESSES[name]
    except KeyError:
        close = difflib.get_close_matches(name, PROCESSES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        msg = f"unknown process {name!r}{hint}; known processes: {', '.join(PROCESSES)}"
        raise UnknownProcessError(msg) from None
