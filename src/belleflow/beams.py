"""Beams of KEKB and SuperKEKB, and the exact lab <-> centre-of-mass transformation.

Frames and conventions (see ``docs/kinematics.md``):

* Lab frame: the Belle/Belle II frame, z along the solenoid axis, roughly the
  e- (HER) direction; x horizontal, away from the ring centre; y up.  Both
  beams lie in the x-z plane: the HER (e-) momentum is ``p (+sin a, 0, +cos a)``
  and the LER (e+) momentum ``p (+sin b, 0, -cos b)``.
* CM frame: reached by the *exact* Lorentz transformation of the beam sum, as
  basf2 ``PCmsLabTransform::rotateLabToCms``: first boost by ``-beta`` of the
  beam sum, then apply the smallest rotation that brings the e- (HER) direction
  *in the CM frame* onto +z.  With beams in the x-z plane this is a rotation
  about the y axis.  ``to_lab`` is the exact inverse.
* Four-vectors are handled in ``(px, py, pz, E)`` order, in GeV.

Everything here works on ``vector.obj`` objects, numpy vector arrays
(``vector.array``), awkward arrays with vector's ``Momentum4D`` behaviour
(flat or jagged, including coffea NanoEvents vectors); the ``*_arrays``
helpers work on raw numpy columns.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import vector
from particle import Particle

from belleflow.lorentz import (
    apply_matrix,
    build,
    components,
    lab_to_cm_matrix,
    lorentz_inverse,
)

__all__ = [
    "KEKB",
    "MACHINES",
    "SUPERKEKB",
    "Machine",
    "electron_mass",
    "get_machine",
    "to_cm_arrays",
    "to_lab_arrays",
]

FloatArray = npt.NDArray[np.float64]


@functools.cache
def electron_mass() -> float:
    """Return the electron mass in GeV, from the ``particle`` package."""
    m = Particle.from_pdgid(11).mass
    assert m is not None  # the electron mass is always known
    return float(m) / 1000.0


# ----------------------------------------------------------------------------
# Machines.
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """An e+e- collider: beam energies and crossing geometry.

    Attributes:
        name: Collider name, "SuperKEKB" or "KEKB".
        experiment: Experiment at its interaction point, "Belle II" or "Belle".
        her_energy: Energy of the high-energy ring beam (e-), GeV.
        ler_energy: Energy of the low-energy ring beam (e+), GeV.
        her_angle: Angle (rad) of the HER momentum to +z in the x-z plane; the
            HER momentum is ``p (+sin a, 0, +cos a)``.
        ler_angle: Angle (rad) of the LER momentum to -z in the x-z plane; the
            LER momentum is ``p (+sin b, 0, -cos b)``.
        ecms_spread: Spread (standard deviation) of the CM energy, GeV.
    """

    name: str
    experiment: str
    her_energy: float
    ler_energy: float
    her_angle: float
    ler_angle: float
    ecms_spread: float

    def __post_init__(self) -> None:
        me = electron_mass()
        if not (self.her_energy > me and self.ler_energy > me):
            msg = f"beam energies must exceed the electron mass, got {self}"
            raise ValueError(msg)
        if self.ecms_spread < 0:
            msg = f"ecms_spread must be >= 0, got {self.ecms_spread}"
            raise ValueError(msg)

    # -- four-momenta ---------------------------------------------------------

    @property
    def her_p4(self) -> Any:
        """HER (e-) four-momentum in the lab, a ``vector.obj`` Momentum4D."""
        p = math.sqrt(self.her_energy**2 - electron_mass() ** 2)
        a = self.her_angle
        return vector.obj(px=p * math.sin(a), py=0.0, pz=p * math.cos(a), E=self.her_energy)

    @property
    def ler_p4(self) -> Any:
        """LER (e+) four-momentum in the lab, a ``vector.obj`` Momentum4D."""
        p = math.sqrt(self.ler_energy**2 - electron_mass() ** 2)
        b = self.ler_angle
        return vector.obj(px=p * math.sin(b), py=0.0, pz=-p * math.cos(b), E=self.ler_energy)

    @property
    def beam_p4(self) -> Any:
        """Four-momentum of the e+e- system in the lab (HER + LER)."""
        h, low = self.her_p4, self.ler_p4
        return vector.obj(px=h.px + low.px, py=h.py + low.py, pz=h.pz + low.pz, E=h.E + low.E)

    @property
    def ecms(self) -> float:
        """Centre-of-mass energy sqrt(s) in GeV (invariant mass of the beam sum)."""
        b = self.beam_p4
        return math.sqrt(b.E**2 - b.px**2 - b.py**2 - b.pz**2)

    @property
    def boost(self) -> Any:
        """Velocity beta of the CM frame in the lab, a ``vector.obj`` 3-vector."""
        b = self.beam_p4
        return vector.obj(x=b.px / b.E, y=b.py / b.E, z=b.pz / b.E)

    def scaled_to(self, ecms: float) -> Machine:
        """Return the same machine with both beam energies scaled to give ``ecms``.

        Used for off-resonance and Upsilon(nS) running: the geometry, the
        HER/LER energy ratio and ``ecms_spread`` are kept.

        Args:
            ecms: Wanted sqrt(s), GeV.

        Returns:
            A new :class:`Machine` whose :attr:`ecms` equals ``ecms`` to ~1e-12.

        Raises:
            ValueError: If ``ecms`` is not above twice the electron mass.
        """
        if not ecms > 2.0 * electron_mass():
            msg = f"ecms must exceed 2 m_e, got {ecms}"
            raise ValueError(msg)
        machine = self
        for _ in range(50):  # fixed point, linear up to O(m_e^2/E^2): 2-3 steps
            k = ecms / machine.ecms
            machine = dataclasses.replace(
                machine, her_energy=machine.her_energy * k, ler_energy=machine.ler_energy * k
            )
            if abs(machine.ecms - ecms) <= 1e-13 * ecms:
                break
        return machine

    # -- frame change ---------------------------------------------------------

    @functools.cached_property
    def lab_to_cm_matrix(self) -> FloatArray:
        """Lab -> CM Lorentz matrix, numpy (4, 4), acting on (px, py, pz, E) columns."""
        m = np.array(
            lab_to_cm_matrix(components(self.beam_p4), components(self.her_p4)), dtype=np.float64
        )
        m.flags.writeable = False
        return m

    @functools.cached_property
    def cm_to_lab_matrix(self) -> FloatArray:
        """CM -> lab Lorentz matrix, the exact inverse of :attr:`lab_to_cm_matrix`."""
        m = np.array(lorentz_inverse(self.lab_to_cm_matrix), dtype=np.float64)
        m.flags.writeable = False
        return m

    def to_cm(self, p4: Any) -> Any:
        """Transform lab four-vectors to the CM frame (same container kind)."""
        return _transform(self.lab_to_cm_matrix, p4)

    def to_lab(self, p4: Any) -> Any:
        """Transform CM four-vectors to the lab frame (same container kind)."""
        return _transform(self.cm_to_lab_matrix, p4)


def _transform(matrix: FloatArray, p4: Any) -> Any:
    """Apply a constant 4x4 matrix to any supported four-vector container."""
    if isinstance(p4, vector.VectorNumpy):
        raw = np.asarray(p4)
        dtype = raw.dtype
        if dtype.names == ("x", "y", "z", "t") and all(dtype[i] == np.float64 for i in range(4)):
            # Cartesian float64 storage: one (N, 4) @ (4, 4) product, no strided access.
            cols = np.ascontiguousarray(raw).view(np.float64).reshape(-1, 4)
            out = np.ascontiguousarray(cols @ matrix.T)
            return vector.MomentumNumpy4D(out.view(dtype).reshape(raw.shape))
        comps = tuple(np.ascontiguousarray(c) for c in components(p4))
        return build(p4, *apply_matrix(matrix.tolist(), (comps[0], comps[1], comps[2], comps[3])))
    return build(p4, *apply_matrix(matrix.tolist(), components(p4)))


def _apply_arrays(
    matrix: FloatArray, px: npt.ArrayLike, py: npt.ArrayLike, pz: npt.ArrayLike, e: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    comps = tuple(np.asarray(c, dtype=np.float64) for c in (px, py, pz, e))
    out = apply_matrix(matrix.tolist(), (comps[0], comps[1], comps[2], comps[3]))
    return (
        np.asarray(out[0], dtype=np.float64),
        np.asarray(out[1], dtype=np.float64),
        np.asarray(out[2], dtype=np.float64),
        np.asarray(out[3], dtype=np.float64),
    )


def to_cm_arrays(
    px: npt.ArrayLike, py: npt.ArrayLike, pz: npt.ArrayLike, E: npt.ArrayLike, machine: Machine
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Lab -> CM on raw numpy columns, with ``machine.lab_to_cm_matrix``.

    Examples:
        >>> px, py, pz, E = to_cm_arrays(0.0, 0.0, 0.0, 1.0, SUPERKEKB)  # at rest in the lab
        >>> bool(E > 1.0 and pz < 0.0)
        True
    """
    return _apply_arrays(machine.lab_to_cm_matrix, px, py, pz, E)


def to_lab_arrays(
    px: npt.ArrayLike, py: npt.ArrayLike, pz: npt.ArrayLike, E: npt.ArrayLike, machine: Machine
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """CM -> lab on raw numpy columns, with ``machine.cm_to_lab_matrix``."""
    return _apply_arrays(machine.cm_to_lab_matrix, px, py, pz, E)


# Presets from basf2 generators/scripts/beamparameters.py.  The CM-energy
# spreads are ESTIMATES (not from beamparameters.py): sqrt(s)/2 times the
# quadrature sum of the relative beam-energy spreads, about 6-7e-4 per beam.
SUPERKEKB = Machine(
    name="SuperKEKB",
    experiment="Belle II",
    her_energy=7.004,  # "Y4S" preset
    ler_energy=4.002,
    her_angle=0.0415,  # 83 mrad crossing, each beam 41.5 mrad off z in x
    ler_angle=0.0415,
    ecms_spread=5.4e-3,  # estimate
)

KEKB = Machine(
    name="KEKB",
    experiment="Belle",
    her_energy=7.998213,  # "KEKB-Belle" preset
    ler_energy=3.499218,
    her_angle=0.022,  # 22 mrad crossing: HER off z, LER along -z
    ler_angle=0.0,
    ecms_spread=5.2e-3,  # estimate
)

MACHINES: dict[str, Machine] = {m.name: m for m in (SUPERKEKB, KEKB)}


def get_machine(name: str) -> Machine:
    """Return a preset machine by collider or experiment name (case-insensitive).

    Args:
        name: "SuperKEKB" / "Belle II" or "KEKB" / "Belle".

    Raises:
        ValueError: For an unknown name; the message lists the known ones.

    Examples:
        >>> get_machine("belle ii").name
        'SuperKEKB'
    """
    key = name.strip().lower()
    for machine in MACHINES.values():
        if key in (machine.name.lower(), machine.experiment.lower()):
            return machine
    known = ", ".join(f"{m.name!r} ({m.experiment})" for m in MACHINES.values())
    msg = f"unknown machine {name!r}; known machines: {known}"
    raise ValueError(msg)
