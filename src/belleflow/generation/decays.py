"""Decay tables and the vectorised event record that decays particles.

Two parts:

* **Decay tables** (:data:`DECAY_TABLE`): for every unstable particle the
  generators produce, its decay channels with branching fractions.  Masses,
  widths and lifetimes come from the ``particle`` package (PDG); branching
  fractions are PDG values (Review of Particle Physics 2024, rounded) written
  below and listed in ``docs/generation/processes.md``.  Where a table lists
  the main modes only, the remainder is *lumped* into a few multi-body modes
  with the right quantum numbers (:func:`_table` with ``lumps``): the explicit
  modes keep their PDG branching fractions exactly.  Antiparticle tables are
  the charge conjugates.
* **Event record** (:class:`EventRecord`): flat numpy columns of all
  particles of a batch of events; :meth:`EventRecord.decay_all` decays every
  unstable particle, generation by generation, with channels drawn per
  particle, Breit-Wigner masses for broad daughters, flat phase space in the
  parent rest frame and displaced decay vertices for particles with a
  lifetime; :meth:`EventRecord.build` sorts the particles by event and returns
  :class:`~belleflow.generation.truth.TruthEvents`.

Particles the detector treats as stable (:data:`STABLE`) are never decayed.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import awkward as ak
import numpy as np
import numpy.typing as npt
from particle import Particle
from particle.particle import InvalidParticle, ParticleNotFound

from belleflow.beams import Machine, to_lab_arrays
from belleflow.generation.phasespace import (
    CosSampler,
    FloatArray,
    mass_of,
    n_body,
    one_plus_a_cos2,
    two_body,
)
from belleflow.generation.truth import TruthEvents

__all__ = [
    "DECAY_TABLE",
    "STABLE",
    "Channel",
    "EventRecord",
    "Species",
    "conjugate",
    "pdg_of",
    "sample_masses",
    "species",
]

IntArray = npt.NDArray[np.int64]

#: |PDG| of the particles the detector sees as stable: e, mu, pi+-, K+-, p,
#: gamma, K_L, n and the neutrinos.
STABLE = frozenset({11, 12, 13, 14, 16, 22, 130, 211, 321, 2112, 2212})

#: Short names used in the tables below (charge-explicit, PDG sign convention).
_NAMES: dict[str, int] = {
    "e-": 11, "e+": -11, "mu-": 13, "mu+": -13, "tau-": 15, "tau+": -15,
    "nu_e": 12, "anti-nu_e": -12, "nu_mu": 14, "anti-nu_mu": -14,
    "nu_tau": 16, "anti-nu_tau": -16, "gamma": 22,
    "pi+": 211, "pi-": -211, "pi0": 111, "eta": 221, "eta'": 331,
    "rho0": 113, "rho+": 213, "rho-": -213, "omega": 223, "phi": 333,
    "a1+": 20213, "a1-": -20213,
    "K+": 321, "K-": -321, "K0": 311, "anti-K0": -311, "K_S0": 310, "K_L0": 130,
    "K*0": 313, "anti-K*0": -313, "K*+": 323, "K*-": -323,
    "p+": 2212, "anti-p-": -2212, "n0": 2112, "anti-n0": -2112,
    "Lambda0": 3122, "anti-Lambda0": -3122, "Sigma0": 3212,
    "Lambda_c+": 4122, "anti-Lambda_c-": -4122,
    "D0": 421, "anti-D0": -421, "D+": 411, "D-": -411, "D_s+": 431, "D_s-": -431,
    "D*0": 423, "anti-D*0": -423, "D*+": 413, "D*-": -413, "D_s*+": 433, "D_s*-": -433,
    "J/psi": 443, "psi(2S)": 100443, "chi_c0": 10441, "chi_c1": 20443, "chi_c2": 445,
    "B+": 521, "B-": -521, "B0": 511, "anti-B0": -511, "Upsilon(4S)": 300553,
}  # fmt: skip


def pdg_of(name: str) -> int:
    """PDG code of a short table name (``"pi+"``, ``"anti-D0"``, ...).

    Raises:
        ValueError: For a name the tables do not use.
    """
    try:
        return _NAMES[name]
    except KeyError:
        msg = f"unknown particle name {name!r} in a decay table"
        raise ValueError(msg) from None


@functools.cache
def conjugate(pdg: int) -> int:
    """PDG code of the antiparticle (self-conjugate and unknown codes map to themselves)."""
    try:
        return int(Particle.from_pdgid(pdg).invert().pdgid)
    except (InvalidParticle, ParticleNotFound):
        return pdg


@dataclass(frozen=True)
class Channel:
    """One decay channel.

    Attributes:
        br: Branching fraction (the channels of a particle sum to 1).
        daughters: PDG codes of the daughters.
        model: ``"phsp"`` (flat phase space), ``"relabel"`` (one daughter
            taking the parent four-momentum, e.g. K0 -> K_S), or
            ``"vector_ll"`` (two-body, ``1 + a cos^2`` about the helicity axis
            with ``a = (1 - 4m^2/M^2)/(1 + 4m^2/M^2)``, a transversely
            polarised vector decaying to a fermion pair).
    """

    br: float
    daughters: tuple[int, ...]
    model: str = "phsp"


@dataclass(frozen=True)
class Species:
    """An unstable particle: nominal mass, width, lifetime and decay channels.

    Attributes:
        pdg: PDG code.
        mass: Nominal mass, GeV.
        width: Total width, GeV (0 if unknown or negligible).
        ctau: Mean decay length c*tau, cm (0: decays at its production vertex).
        channels: Decay channels (branching fractions summing to 1).
    """

    pdg: int
    mass: float
    width: float
    ctau: float
    channels: tuple[Channel, ...]

    @property
    def broad(self) -> bool:
        """True if the line shape matters (Gamma/M > 0.2 %): masses are drawn from it."""
        return self.width > 2e-3 * self.mass


def _ch(br_percent: float, names: str, model: str = "phsp") -> tuple[float, tuple[int, ...], str]:
    return br_percent, tuple(pdg_of(x) for x in names.split()), model


def _table(
    explicit: Sequence[tuple[float, tuple[int, ...], str]],
    lumps: Sequence[tuple[float, tuple[int, ...], str]] = (),
) -> tuple[Channel, ...]:
    """Channels from explicit PDG percentages plus lumped modes sharing the remainder.

    Without lumps, the explicit modes are normalised to unit sum.
    """
    total = sum(c[0] for c in explicit)
    if lumps:
        if total >= 100.0:
            msg = f"explicit modes already sum to {total} %, no room for lumps"
            raise ValueError(msg)
        weight = sum(c[0] for c in lumps)
        rest = [(c[0] * (100.0 - total) / weight, c[1], c[2]) for c in lumps]
        entries = [*explicit, *rest]
        norm = 100.0
    else:
        entries = list(explicit)
        norm = total
    return tuple(Channel(br / norm, d, m) for br, d, m in entries)


# --- Branching fractions (%, PDG 2024 rounded); lumps share the remainder. ---
# Each list is for the particle; the antiparticle is built by conjugation.
_PERCENT: dict[str, tuple[Sequence[tuple[float, tuple[int, ...], str]], ...]] = {
    "pi0": ([_ch(98.823, "gamma gamma"), _ch(1.174, "e+ e- gamma")],),
    "eta": (
        [
            _ch(39.36, "gamma gamma"),
            _ch(32.57, "pi0 pi0 pi0"),
            _ch(22.92, "pi+ pi- pi0"),
            _ch(4.22, "pi+ pi- gamma"),
            _ch(0.69, "e+ e- gamma"),
        ],
        [_ch(1.0, "gamma gamma")],
    ),
    "eta'": (
        [
            _ch(42.5, "pi+ pi- eta"),
            _ch(29.5, "rho0 gamma"),
            _ch(22.4, "pi0 pi0 eta"),
            _ch(2.52, "omega gamma"),
            _ch(2.22, "gamma gamma"),
        ],
        [_ch(1.0, "pi0 pi0 pi0")],
    ),
    "rho0": ([_ch(100.0, "pi+ pi-")],),
    "rho+": ([_ch(100.0, "pi+ pi0")],),
    "omega": (
        [_ch(89.2, "pi+ pi- pi0"), _ch(8.4, "pi0 gamma"), _ch(1.53, "pi+ pi-")],
        [_ch(1.0, "pi+ pi- pi0")],
    ),
    "phi": (
        [
            _ch(49.1, "K+ K-"),
            _ch(33.9, "K_L0 K_S0"),
            _ch(15.4, "pi+ pi- pi0"),
            _ch(1.30, "eta gamma"),
            _ch(0.13, "pi0 gamma"),
            _ch(0.03, "e+ e-"),
            _ch(0.03, "mu+ mu-"),
        ],
        [_ch(1.0, "K+ K-")],
    ),
    "a1+": ([_ch(50.0, "rho0 pi+"), _ch(50.0, "rho+ pi0")],),
    "K0": ([_ch(50.0, "K_S0", "relabel"), _ch(50.0, "K_L0", "relabel")],),
    "K*0": ([_ch(66.67, "K+ pi-"), _ch(33.33, "K0 pi0")],),
    "K*+": ([_ch(66.67, "K0 pi+"), _ch(33.33, "K+ pi0")],),
    "K_S0": ([_ch(69.20, "pi+ pi-"), _ch(30.69, "pi0 pi0")], [_ch(1.0, "pi+ pi-")]),
    "Lambda0": ([_ch(64.1, "p+ pi-"), _ch(35.8, "n0 pi0")], [_ch(1.0, "p+ pi-")]),
    "Sigma0": ([_ch(100.0, "Lambda0 gamma")],),
    # tau-: the explicit modes sum to 100 %; modes below 0.1 % are folded into
    # 3h pi0 nu (2.74 -> 3.66 %).  Polarisation and V-A matrix elements are not
    # modelled: flat phase space.
    "tau-": (
        [
            _ch(17.82, "e- anti-nu_e nu_tau"),
            _ch(17.39, "mu- anti-nu_mu nu_tau"),
            _ch(10.82, "pi- nu_tau"),
            _ch(0.696, "K- nu_tau"),
            _ch(25.49, "rho- nu_tau"),
            _ch(18.25, "a1- nu_tau"),
            _ch(1.20, "K*- nu_tau"),
            _ch(1.95, "omega pi- nu_tau"),
            _ch(3.664, "pi- pi- pi+ pi0 nu_tau"),
            _ch(1.04, "pi- pi0 pi0 pi0 nu_tau"),
            _ch(0.50, "pi- pi- pi+ pi0 pi0 nu_tau"),
            _ch(0.29, "K- pi- pi+ nu_tau"),
            _ch(0.14, "K- K+ pi- nu_tau"),
            _ch(0.15, "K- K0 nu_tau"),
            _ch(0.38, "pi- anti-K0 pi0 nu_tau"),
            _ch(0.14, "eta pi- pi0 nu_tau"),
            _ch(0.08, "pi- pi- pi- pi+ pi+ nu_tau"),
        ],
    ),
    "D*+": ([_ch(67.7, "D0 pi+"), _ch(30.7, "D+ pi0"), _ch(1.6, "D+ gamma")],),
    "D*0": ([_ch(64.7, "D0 pi0"), _ch(35.3, "D0 gamma")],),
    "D_s*+": ([_ch(93.5, "D_s+ gamma"), _ch(5.77, "D_s+ pi0")], [_ch(1.0, "D_s+ gamma")]),
    "D0": (
        [
            _ch(3.947, "K- pi+"),
            _ch(11.2, "K- rho+"),
            _ch(2.3, "K*- pi+"),
            _ch(8.22, "K- pi+ pi+ pi-"),
            _ch(2.48, "anti-K0 pi0"),
            _ch(2.8, "anti-K0 pi+ pi-"),
            _ch(1.0, "anti-K0 eta"),
            _ch(2.22, "anti-K0 omega"),
            _ch(3.549, "K- e+ nu_e"),
            _ch(3.41, "K- mu+ nu_mu"),
            _ch(2.15, "K*- e+ nu_e"),
            _ch(1.89, "K*- mu+ nu_mu"),
            _ch(0.291, "pi- e+ nu_e"),
            _ch(0.267, "pi- mu+ nu_mu"),
            _ch(0.408, "K- K+"),
            _ch(0.145, "pi+ pi-"),
            _ch(1.49, "pi+ pi- pi0"),
            _ch(8.86, "K- pi+ pi0 pi0"),
            _ch(5.2, "anti-K0 pi+ pi- pi0"),
            _ch(4.3, "K- pi+ pi+ pi- pi0"),
            _ch(0.91, "anti-K0 pi0 pi0"),
            _ch(0.41, "phi anti-K0"),
        ],
        [
            _ch(3.0, "K- pi+ pi0 pi0 pi0"),
            _ch(2.0, "anti-K0 pi+ pi- pi0 pi0"),
            _ch(1.0, "pi+ pi- pi+ pi- pi0"),
            _ch(1.0, "K- K+ pi0"),
        ],
    ),
    "D+": (
        [
            _ch(9.38, "K- pi+ pi+"),
            _ch(1.562, "anti-K0 pi+"),
            _ch(6.99, "anti-K0 pi+ pi0"),
            _ch(8.72, "anti-K0 e+ nu_e"),
            _ch(8.76, "anti-K0 mu+ nu_mu"),
            _ch(5.40, "anti-K*0 e+ nu_e"),
            _ch(5.27, "anti-K*0 mu+ nu_mu"),
            _ch(6.25, "K- pi+ pi+ pi0"),
            _ch(2.97, "anti-K0 pi+ pi+ pi-"),
            _ch(0.125, "pi+ pi0"),
            _ch(0.304, "K+ anti-K0"),
            _ch(0.57, "phi pi+"),
            _ch(0.40, "K- K+ pi+"),
            _ch(0.327, "pi+ pi+ pi-"),
            _ch(0.377, "eta pi+"),
        ],
        [
            _ch(3.0, "anti-K0 pi+ pi+ pi- pi0"),
            _ch(2.0, "K- pi+ pi+ pi0 pi0"),
            _ch(2.0, "anti-K0 pi+ pi0 pi0"),
            _ch(1.0, "pi+ pi+ pi- pi0"),
        ],
    ),
    "D_s+": (
        [
            _ch(4.5, "phi pi+"),
            _ch(2.95, "K+ anti-K0"),
            _ch(1.68, "eta pi+"),
            _ch(3.94, "eta' pi+"),
            _ch(8.9, "eta rho+"),
            _ch(5.8, "eta' rho+"),
            _ch(5.6, "phi rho+"),
            _ch(5.4, "K*+ anti-K0"),
            _ch(3.9, "anti-K*0 K+"),
            _ch(2.39, "phi e+ nu_e"),
            _ch(1.90, "phi mu+ nu_mu"),
            _ch(2.32, "eta e+ nu_e"),
            _ch(2.40, "eta mu+ nu_mu"),
            _ch(0.80, "eta' e+ nu_e"),
            _ch(0.543, "mu+ nu_mu"),
            _ch(5.32, "tau+ nu_tau"),
            _ch(1.08, "pi+ pi+ pi-"),
            _ch(2.0, "K+ K- pi+ pi0"),
        ],
        [_ch(2.0, "pi+ pi+ pi- pi0"), _ch(1.0, "K+ anti-K0 pi+ pi-"), _ch(1.0, "eta pi+ pi0")],
    ),
    "Lambda_c+": (
        [
            _ch(6.28, "p+ K- pi+"),
            _ch(3.18, "p+ anti-K0"),
            _ch(1.30, "Lambda0 pi+"),
            _ch(7.0, "Lambda0 pi+ pi0"),
            _ch(3.56, "Lambda0 e+ nu_e"),
            _ch(3.5, "Lambda0 mu+ nu_mu"),
            _ch(4.6, "p+ K- pi+ pi0"),
            _ch(3.61, "Lambda0 pi+ pi+ pi-"),
            _ch(1.29, "Sigma0 pi+"),
        ],
        [
            _ch(2.0, "p+ anti-K0 pi0"),
            _ch(2.0, "p+ anti-K0 pi+ pi-"),
            _ch(1.0, "Lambda0 pi+ pi0 pi0"),
        ],
    ),
    "J/psi": (
        [
            _ch(5.971, "e+ e-"),
            _ch(5.961, "mu+ mu-"),
            _ch(0.56, "rho0 pi0"),
            _ch(0.56, "rho+ pi-"),
            _ch(0.56, "rho- pi+"),
            _ch(4.1, "pi+ pi- pi+ pi- pi0"),
            _ch(2.9, "pi+ pi- pi+ pi- pi+ pi- pi0"),
            _ch(0.86, "omega pi+ pi-"),
            _ch(0.66, "K+ K- pi+ pi-"),
            _ch(0.212, "p+ anti-p-"),
            _ch(0.60, "p+ anti-p- pi+ pi-"),
        ],
        [
            _ch(4.0, "pi+ pi- pi+ pi- pi0 pi0"),
            _ch(3.0, "pi+ pi- pi0 pi0 pi0"),
            _ch(2.0, "pi+ pi- pi+ pi- pi+ pi- pi0 pi0"),
            _ch(1.0, "K+ K- pi+ pi- pi0"),
            _ch(1.0, "eta pi+ pi- pi0"),
        ],
    ),
    "psi(2S)": (
        [
            _ch(34.68, "J/psi pi+ pi-"),
            _ch(18.24, "J/psi pi0 pi0"),
            _ch(3.37, "J/psi eta"),
            _ch(0.793, "e+ e-"),
            _ch(0.80, "mu+ mu-"),
            _ch(0.31, "tau+ tau-"),
            _ch(9.77, "chi_c0 gamma"),
            _ch(9.75, "chi_c1 gamma"),
            _ch(9.52, "chi_c2 gamma"),
        ],
        [_ch(2.0, "pi+ pi- pi+ pi- pi0"), _ch(1.0, "pi+ pi- pi+ pi- pi+ pi- pi0")],
    ),
    "chi_c0": (
        [_ch(1.4, "J/psi gamma")],
        [_ch(2.0, "pi+ pi- pi+ pi-"), _ch(1.0, "K+ K- pi+ pi-"), _ch(1.0, "pi+ pi- pi0 pi0")],
    ),
    "chi_c1": (
        [_ch(34.3, "J/psi gamma")],
        [_ch(2.0, "pi+ pi- pi+ pi-"), _ch(1.0, "K+ K- pi+ pi-"), _ch(1.0, "pi+ pi- pi0 pi0")],
    ),
    "chi_c2": (
        [_ch(19.0, "J/psi gamma")],
        [_ch(2.0, "pi+ pi- pi+ pi-"), _ch(1.0, "K+ K- pi+ pi-"), _ch(1.0, "pi+ pi- pi0 pi0")],
    ),
    # B+ = (u bbar): bbar -> cbar W+.  Semileptonic about 10.9 % per light lepton
    # (D, D*, D(*) pi, D(*) pi pi and b -> u as rho0), 2.65 % to tau; the
    # remainder (about 47 %) is lumped into multi-body b -> c hadronic modes.
    "B+": (
        [
            _ch(2.35, "anti-D0 e+ nu_e"),
            _ch(5.58, "anti-D*0 e+ nu_e"),
            _ch(0.42, "D- pi+ e+ nu_e"),
            _ch(0.60, "D*- pi+ e+ nu_e"),
            _ch(0.22, "anti-D0 pi0 e+ nu_e"),
            _ch(0.30, "anti-D*0 pi0 e+ nu_e"),
            _ch(0.70, "anti-D0 pi+ pi- e+ nu_e"),
            _ch(0.50, "anti-D*0 pi+ pi- e+ nu_e"),
            _ch(0.20, "rho0 e+ nu_e"),
            _ch(2.35, "anti-D0 mu+ nu_mu"),
            _ch(5.58, "anti-D*0 mu+ nu_mu"),
            _ch(0.42, "D- pi+ mu+ nu_mu"),
            _ch(0.60, "D*- pi+ mu+ nu_mu"),
            _ch(0.22, "anti-D0 pi0 mu+ nu_mu"),
            _ch(0.30, "anti-D*0 pi0 mu+ nu_mu"),
            _ch(0.70, "anti-D0 pi+ pi- mu+ nu_mu"),
            _ch(0.50, "anti-D*0 pi+ pi- mu+ nu_mu"),
            _ch(0.20, "rho0 mu+ nu_mu"),
            _ch(0.77, "anti-D0 tau+ nu_tau"),
            _ch(1.88, "anti-D*0 tau+ nu_tau"),
            _ch(0.468, "anti-D0 pi+"),
            _ch(0.490, "anti-D*0 pi+"),
            _ch(1.34, "anti-D0 rho+"),
            _ch(0.98, "anti-D*0 rho+"),
            _ch(0.56, "anti-D0 pi+ pi+ pi-"),
            _ch(1.03, "anti-D*0 pi+ pi+ pi-"),
            _ch(0.107, "D- pi+ pi+"),
            _ch(0.135, "D*- pi+ pi+"),
            _ch(0.036, "anti-D0 K+"),
            _ch(0.90, "anti-D0 D_s+"),
            _ch(0.82, "anti-D*0 D_s+"),
            _ch(0.76, "anti-D0 D_s*+"),
            _ch(1.71, "anti-D*0 D_s*+"),
            _ch(0.145, "anti-D0 D0 K+"),
            _ch(0.63, "anti-D*0 D0 K+"),
            _ch(1.12, "anti-D*0 D*0 K+"),
            _ch(0.155, "anti-D0 D+ K0"),
            _ch(0.102, "J/psi K+"),
            _ch(0.143, "J/psi K*+"),
            _ch(0.0624, "psi(2S) K+"),
            _ch(0.081, "J/psi K+ pi+ pi-"),
            _ch(0.046, "chi_c1 K+"),
            _ch(0.50, "anti-Lambda_c- p+ pi+"),
            _ch(1.00, "anti-Lambda_c- p+ pi+ pi0"),
            _ch(0.60, "K+ pi+ pi- pi0"),
            _ch(0.60, "pi+ pi+ pi- pi0 pi0"),
        ],
        [
            _ch(3.0, "anti-D0 pi+ pi0"),
            _ch(3.0, "anti-D*0 pi+ pi0"),
            _ch(3.0, "anti-D0 pi+ pi0 pi0"),
            _ch(3.0, "anti-D0 pi+ pi+ pi- pi0"),
            _ch(3.0, "anti-D*0 pi+ pi+ pi- pi0"),
            _ch(2.0, "D- pi+ pi+ pi0"),
            _ch(2.0, "D*- pi+ pi+ pi0"),
            _ch(1.0, "anti-D0 omega pi+"),
            _ch(1.0, "anti-D0 D0 K+ pi0"),
            _ch(1.0, "anti-D0 D_s+ pi0"),
        ],
    ),
    # B0 = (d bbar), same structure; J/psi K0 gives J/psi K_S / K_L.
    "B0": (
        [
            _ch(2.31, "D- e+ nu_e"),
            _ch(5.05, "D*- e+ nu_e"),
            _ch(0.41, "anti-D0 pi- e+ nu_e"),
            _ch(0.58, "anti-D*0 pi- e+ nu_e"),
            _ch(0.20, "D- pi0 e+ nu_e"),
            _ch(0.28, "D*- pi0 e+ nu_e"),
            _ch(0.60, "D- pi+ pi- e+ nu_e"),
            _ch(0.50, "D*- pi+ pi- e+ nu_e"),
            _ch(0.20, "rho- e+ nu_e"),
            _ch(2.31, "D- mu+ nu_mu"),
            _ch(5.05, "D*- mu+ nu_mu"),
            _ch(0.41, "anti-D0 pi- mu+ nu_mu"),
            _ch(0.58, "anti-D*0 pi- mu+ nu_mu"),
            _ch(0.20, "D- pi0 mu+ nu_mu"),
            _ch(0.28, "D*- pi0 mu+ nu_mu"),
            _ch(0.60, "D- pi+ pi- mu+ nu_mu"),
            _ch(0.50, "D*- pi+ pi- mu+ nu_mu"),
            _ch(0.20, "rho- mu+ nu_mu"),
            _ch(1.00, "D- tau+ nu_tau"),
            _ch(1.57, "D*- tau+ nu_tau"),
            _ch(0.252, "D- pi+"),
            _ch(0.274, "D*- pi+"),
            _ch(0.76, "D- rho+"),
            _ch(0.68, "D*- rho+"),
            _ch(0.60, "D- pi+ pi+ pi-"),
            _ch(0.72, "D*- pi+ pi+ pi-"),
            _ch(0.088, "anti-D0 pi+ pi-"),
            _ch(0.0186, "D- K+"),
            _ch(0.72, "D- D_s+"),
            _ch(0.80, "D*- D_s+"),
            _ch(0.74, "D- D_s*+"),
            _ch(1.77, "D*- D_s*+"),
            _ch(0.107, "D- D0 K+"),
            _ch(0.247, "D*- D0 K+"),
            _ch(0.35, "D- D*0 K+"),
            _ch(1.06, "D*- D*0 K+"),
            _ch(0.0868, "J/psi K0"),
            _ch(0.127, "J/psi K*0"),
            _ch(0.058, "psi(2S) K0"),
            _ch(0.115, "J/psi K+ pi-"),
            _ch(0.50, "anti-Lambda_c- p+"),
            _ch(1.00, "anti-Lambda_c- p+ pi+ pi-"),
            _ch(0.60, "K+ pi- pi0"),
            _ch(0.60, "pi+ pi- pi0 pi0"),
        ],
        [
            _ch(3.0, "D- pi+ pi0"),
            _ch(3.0, "D*- pi+ pi0"),
            _ch(3.0, "D- pi+ pi0 pi0"),
            _ch(3.0, "D- pi+ pi+ pi- pi0"),
            _ch(3.0, "D*- pi+ pi+ pi- pi0"),
            _ch(2.0, "anti-D0 pi+ pi- pi0"),
            _ch(2.0, "anti-D*0 pi+ pi- pi0"),
            _ch(1.0, "D- omega pi+"),
            _ch(1.0, "D- D0 K+ pi0"),
            _ch(1.0, "D- D_s+ pi0"),
        ],
    ),
}


@functools.cache
def _pdg_properties(pdg: int) -> tuple[float, float, float]:
    """(mass GeV, width GeV, ctau cm) from the ``particle`` package."""
    p = Particle.from_pdgid(pdg)
    if p.mass is None and abs(pdg) in (12, 14, 16):
        return 0.0, 0.0, 0.0  # neutrinos: massless here
    if p.mass is None:
        msg = f"particle {pdg} has no mass in the PDG tables"
        raise ValueError(msg)
    width = 0.0 if p.width is None else float(p.width) / 1000.0
    ctau = p.ctau
    # Lifetimes below a femtometre (strong decays) are vertex-wise zero; the
    # particle package gives ctau in mm.
    ctau_cm = 0.0 if ctau is None or not np.isfinite(ctau) else float(ctau) / 10.0
    return float(p.mass) / 1000.0, width, ctau_cm


def _build_table() -> dict[int, Species]:
    table: dict[int, Species] = {}
    for name, parts in _PERCENT.items():
        channels = _table(*parts)
        pdg = pdg_of(name)
        mass, width, ctau = _pdg_properties(pdg)
        table[pdg] = Species(pdg, mass, width, ctau, channels)
        bar = conjugate(pdg)
        if bar != pdg:
            conj = tuple(
                Channel(c.br, tuple(conjugate(d) for d in c.daughters), c.model) for c in channels
            )
            table[bar] = Species(bar, mass, width, ctau, conj)
    return table


#: Unstable particles by PDG code (particles and antiparticles).
DECAY_TABLE: dict[int, Species] = _build_table()


def species(pdg: int, overrides: Mapping[int, Species] | None = None) -> Species | None:
    """Decay information of ``pdg`` (``overrides`` first), None for stable particles."""
    if overrides is not None and pdg in overrides:
        return overrides[pdg]
    return DECAY_TABLE.get(pdg)


def _nominal_mass(pdg: int, overrides: Mapping[int, Species] | None) -> float:
    s = species(pdg, overrides)
    if s is not None:
        return s.mass
    return _pdg_properties(pdg)[0]


@functools.cache
def _min_mass_table(pdg: int) -> float:
    """Lowest mass a (table) particle can have: threshold of its lightest mode if broad."""
    s = DECAY_TABLE.get(pdg)
    if s is None:
        return _pdg_properties(pdg)[0]
    if not s.broad:
        return s.mass
    return min(sum(_min_mass_table(d) for d in c.daughters) for c in s.channels)


def _min_mass(pdg: int, overrides: Mapping[int, Species] | None) -> float:
    if overrides is not None and pdg in overrides:
        return overrides[pdg].mass
    return _min_mass_table(pdg)


def sample_masses(rng: np.random.Generator, pdg: IntArray, n_widths: float = 5.0) -> FloatArray:
    """Masses of freshly produced hadrons: nominal, or truncated Breit-Wigner if broad.

    Broad particles (rho, K*, omega, phi, a1, ...) get a Cauchy line shape
    truncated to [threshold, m0 + ``n_widths`` Gamma].
    """
    out = np.empty(pdg.size)
    for code in np.unique(pdg):
        sel = pdg == code
        s = species(int(code))
        if s is None or not s.broad:
            out[sel] = _nominal_mass(int(code), None)
            continue
        half = 0.5 * s.width
        a = np.arctan((_min_mass_table(int(code)) - s.mass) / half)
        b = np.arctan(2.0 * n_widths)
        out[sel] = s.mass + half * np.tan(a + (b - a) * rng.random(int(sel.sum())))
    return out


def _daughter_masses(
    rng: np.random.Generator,
    parent_mass: FloatArray,
    daughters: tuple[int, ...],
    overrides: Mapping[int, Species] | None,
) -> FloatArray:
    """Masses (n, k) of the daughters: nominal, or truncated Breit-Wigner if broad.

    Broad daughters are drawn one after the other, each truncated to leave
    room for the minimal masses of the daughters still to come, so that every
    decay stays above threshold.
    """
    n, k = parent_mass.size, len(daughters)
    lows = np.array([_min_mass(d, overrides) for d in daughters])
    out = np.empty((n, k))
    used = np.zeros(n)
    for j, d in enumerate(daughters):
        s = species(d, overrides)
        if s is None or not s.broad:
            out[:, j] = _nominal_mass(d, overrides)
        else:
            hi = parent_mass - used - lows[j + 1 :].sum()
            lo = np.full(n, lows[j])
            half = 0.5 * s.width
            # Inverse CDF of a Cauchy truncated to [lo, hi].
            a = np.arctan((lo - s.mass) / half)
            b = np.arctan((np.maximum(hi, lo) - s.mass) / half)
            out[:, j] = s.mass + half * np.tan(a + (b - a) * rng.random(n))
        used += out[:, j]
    return out


class EventRecord:
    """Flat columns of the particles of ``n_events`` events, grown generation by generation.

    Particles are appended with :meth:`add` (global indices are returned and
    used as ``mother``); :meth:`to_lab` transforms everything stored so far
    from the CM to the lab frame; :meth:`decay_all` decays; :meth:`build`
    returns :class:`TruthEvents`.
    """

    def __init__(self, n_events: int) -> None:
        """Start an empty record for ``n_events`` events."""
        self.n_events = n_events
        self._event: list[IntArray] = []
        self._pdg: list[IntArray] = []
        self._mother: list[IntArray] = []
        self._p4: list[FloatArray] = []
        self._vertex: list[FloatArray] = []
        self._decayed: list[npt.NDArray[np.bool_]] = []
        self._prompt: list[npt.NDArray[np.bool_]] = []
        self._size = 0
        self._decayed_upto = 0

    def __len__(self) -> int:
        """Number of particles stored."""
        return self._size

    def add(
        self,
        event: npt.ArrayLike,
        pdg: npt.ArrayLike,
        p4: FloatArray,
        *,
        vertex: FloatArray | None = None,
        mother: npt.ArrayLike | None = None,
        decayed: npt.ArrayLike = False,
        prompt: npt.ArrayLike = False,
    ) -> IntArray:
        """Append particles; return their global indices.

        Args:
            event: Event index of each particle.
            pdg: PDG code (scalar or per particle).
            p4: Four-momenta (m, 4).
            vertex: Production vertices (m, 3), cm; default the origin.
            mother: Global index of the mother, default -1.
            decayed: True for particles whose daughters the caller adds itself.
            prompt: True to decay at the production vertex whatever the lifetime
                (a particle whose flight is already accounted for).
        """
        m = p4.shape[0]
        self._event.append(np.broadcast_to(np.asarray(event, dtype=np.int64), (m,)).copy())
        self._pdg.append(np.broadcast_to(np.asarray(pdg, dtype=np.int64), (m,)).copy())
        mom = -1 if mother is None else mother
        self._mother.append(np.broadcast_to(np.asarray(mom, dtype=np.int64), (m,)).copy())
        self._p4.append(np.asarray(p4, dtype=np.float64))
        self._vertex.append(np.zeros((m, 3)) if vertex is None else np.asarray(vertex, float))
        self._decayed.append(np.broadcast_to(np.asarray(decayed, dtype=bool), (m,)).copy())
        self._prompt.append(np.broadcast_to(np.asarray(prompt, dtype=bool), (m,)).copy())
        start = self._size
        self._size += m
        return np.arange(start, self._size, dtype=np.int64)

    def _consolidate(self) -> None:
        for name in ("_event", "_pdg", "_mother", "_p4", "_vertex", "_decayed", "_prompt"):
            parts = getattr(self, name)
            if len(parts) > 1:
                setattr(self, name, [np.concatenate(parts)])

    @property
    def p4(self) -> FloatArray:
        """Four-momenta of all particles (m, 4)."""
        self._consolidate()
        return self._p4[0] if self._p4 else np.zeros((0, 4))

    @property
    def pdg(self) -> IntArray:
        """PDG codes of all particles."""
        self._consolidate()
        return self._pdg[0] if self._pdg else np.zeros(0, np.int64)

    def mark_decayed(self, idx: IntArray) -> None:
        """Flag particles whose daughters the caller adds itself."""
        self._consolidate()
        self._decayed[0][idx] = True

    def to_lab(self, machine: Machine) -> None:
        """Transform the momenta stored so far from the CM frame to the lab."""
        self._consolidate()
        if not self._p4:
            return
        p = self._p4[0]
        px, py, pz, e = to_lab_arrays(p[:, 0], p[:, 1], p[:, 2], p[:, 3], machine)
        self._p4[0] = np.stack((px, py, pz, e), axis=1)

    def decay_all(
        self,
        rng: np.random.Generator,
        overrides: Mapping[int, Species] | None = None,
        cos_samplers: Mapping[int, CosSampler] | None = None,
        max_generations: int = 30,
    ) -> None:
        """Decay every unstable particle (and their daughters) not decayed yet.

        Args:
            rng: Random generator.
            overrides: Extra or replacement species (signal particles).
            cos_samplers: Per PDG code, a cos(theta) sampler about the helicity
                axis used for its two-body decays instead of isotropy.
            max_generations: Safety limit on decay depth.

        Raises:
            ValueError: A non-stable particle has no decay table.
        """
        for _ in range(max_generations):
            self._consolidate()
            if self._size == self._decayed_upto:
                return
            lo = self._decayed_upto
            self._decayed_upto = self._size
            pdg = self._pdg[0][lo:]
            todo = ~self._decayed[0][lo:] & ~np.isin(np.abs(pdg), list(STABLE))
            idx = np.nonzero(todo)[0] + lo
            if idx.size == 0:
                continue
            codes = self._pdg[0][idx]
            for code in np.unique(codes):
                s = species(int(code), overrides)
                if s is None:
                    if abs(int(code)) in STABLE or _is_invisible(int(code)):
                        continue
                    msg = f"no decay table for PDG {int(code)}"
                    raise ValueError(msg)
                if not s.channels:
                    continue  # no channels: a final (e.g. invisible dark) particle
                sampler = None if cos_samplers is None else cos_samplers.get(int(code))
                self._decay_species(rng, s, idx[codes == code], overrides, sampler)
            self._decayed[0][idx] = True
        msg = "decay_all: too many decay generations"
        raise RuntimeError(msg)

    def _decay_species(
        self,
        rng: np.random.Generator,
        s: Species,
        idx: IntArray,
        overrides: Mapping[int, Species] | None,
        sampler: CosSampler | None,
    ) -> None:
        p4 = self._p4[0][idx]
        mass = mass_of(p4)
        thresholds = np.array(
            [sum(_min_mass(d, overrides) for d in c.daughters) for c in s.channels]
        )
        brs = np.array([c.br for c in s.channels])
        relabel = np.array([c.model == "relabel" for c in s.channels])
        open_ = (mass[:, None] > thresholds[None, :]) | relabel[None, :]
        prob = brs[None, :] * open_
        norm = prob.sum(axis=1)
        if np.any(norm <= 0.0):
            msg = f"PDG {s.pdg}: a particle of mass {mass[norm <= 0].min()} has no open channel"
            raise ValueError(msg)
        cum = np.cumsum(prob, axis=1) / norm[:, None]
        choice = (rng.random(idx.size)[:, None] > cum).sum(axis=1)
        choice = np.minimum(choice, len(s.channels) - 1)
        # Decay vertex: exponential flight along the momentum, L = beta gamma c tau * Exp(1).
        vertex = self._vertex[0][idx].copy()
        prompt = self._prompt[0][idx]
        if s.ctau > 0.0:
            # L = (|p|/m) c tau Exp(1) along p: the vector is (c tau Exp(1)/m) * p.
            flight = np.where(prompt, 0.0, s.ctau * rng.exponential(1.0, idx.size) / mass)
            vertex += flight[:, None] * p4[:, :3]
        event = self._event[0][idx]
        for c_index, channel in enumerate(s.channels):
            sel = np.nonzero(choice == c_index)[0]
            if sel.size == 0:
                continue
            parent = p4[sel]
            k = len(channel.daughters)
            if channel.model == "relabel" or k == 1:
                self.add(
                    event[sel], channel.daughters[0], parent.copy(),
                    vertex=vertex[sel], mother=idx[sel],
                )  # fmt: skip
                continue
            masses = _daughter_masses(rng, mass[sel], channel.daughters, overrides)
            if k == 2:
                cos = sampler
                if channel.model == "vector_ll":
                    ml = masses[:, 0].mean()
                    r = 4.0 * ml * ml / float(np.mean(mass[sel]) ** 2)
                    cos = one_plus_a_cos2((1.0 - r) / (1.0 + r))
                d1, d2 = two_body(rng, parent, masses[:, 0], masses[:, 1], cos)
                daughters = np.stack((d1, d2), axis=1)
            else:
                daughters = n_body(rng, parent, masses)
            for j, d in enumerate(channel.daughters):
                self.add(event[sel], d, daughters[:, j], vertex=vertex[sel], mother=idx[sel])

    def build(self, weight: npt.ArrayLike | None = None) -> TruthEvents:
        """Sort particles by event (stable: parents stay before daughters) and pack.

        Args:
            weight: Per-event weights (default 1).
        """
        self._consolidate()
        if self._size == 0:
            msg = "EventRecord.build: no particles"
            raise ValueError(msg)
        event = self._event[0]
        order = np.argsort(event, kind="stable")
        position = np.empty_like(order)
        position[order] = np.arange(order.size)
        counts = np.bincount(event, minlength=self.n_events)
        offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
        mother_global = self._mother[0][order]
        ev_sorted = event[order]
        mother = np.where(
            mother_global >= 0, position[np.maximum(mother_global, 0)] - offsets[ev_sorted], -1
        )
        p4 = self._p4[0][order]
        vertex = self._vertex[0][order]
        flat = ak.zip(
            {
                "PDG": self._pdg[0][order].astype(np.int32),
                "mother": mother.astype(np.int32),
                "px": p4[:, 0],
                "py": p4[:, 1],
                "pz": p4[:, 2],
                "E": p4[:, 3],
                "prodVertexX": vertex[:, 0],
                "prodVertexY": vertex[:, 1],
                "prodVertexZ": vertex[:, 2],
            }
        )
        w = np.ones(self.n_events) if weight is None else np.asarray(weight, dtype=np.float64)
        return TruthEvents(ak.unflatten(flat, counts), w)


def _is_invisible(pdg: int) -> bool:
    """Dark-sector codes (9000000-9999999) without a decay table are final (invisible)."""
    return 9_000_000 <= abs(pdg) < 10_000_000
