"""The selection of one pass over a chunk, step by step: the cutflow IS the selection.

A channel's selection calls :meth:`Cuts.require` once per cut, in the
paper's order. A cut is either *per event* (a flat boolean array) or *per
candidate* (a jagged boolean array, one entry per candidate of each event).
Like coffea's ``PackedSelection``, every cut is ANDed with the ones before
it, so the recorded steps never rise; unlike it, candidate cuts are ANDed
per candidate and an event passes a candidate cut while one of its
candidates passes every candidate cut so far. :meth:`Cuts.keep` restricts
the candidates without recording a step (e.g. mass range and vetoes that
the paper applies together with a later cut).

The framework (:class:`belleflow.processor.DeclaredProcessor`) records the
steps in the chunk's cutflow, fills only the events that pass them all and,
among their candidates, only those that pass every candidate cut.

Example:
    >>> import awkward as ak
    >>> import numpy as np
    >>> cuts = Cuts(3)
    >>> cuts.require("two_tracks", np.array([True, True, False]))
    >>> cuts.require("mass_window", ak.Array([[False, True], [False], [True]]))
    >>> cuts.event.tolist(), cuts.candidates.tolist()
    ([True, False, False], [[False, True], [False], [True]])
    >>> {name: mask.tolist() for name, mask in cuts.steps.items()}
    {'two_tracks': [True, True, False], 'mass_window': [True, False, False]}
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

__all__ = ["BoolArray", "Cuts", "event_mask"]

#: A flat boolean NumPy array (one entry per event).
BoolArray = np.ndarray[Any, np.dtype[np.bool_]]


def event_mask(mask: Any) -> BoolArray:
    """A per-event mask (NumPy, awkward or a list) as a NumPy boolean array; None is False."""
    if isinstance(mask, np.ndarray):
        return mask.astype(bool, copy=False)
    return np.asarray(ak.to_numpy(ak.fill_none(mask, False)), dtype=bool)


def _is_jagged(mask: Any) -> bool:
    return isinstance(mask, ak.Array) and mask.ndim > 1


class Cuts:
    """Cumulative event and candidate selection of ``n`` events, with its named steps.

    Attributes:
        n: Number of events.
        event: Events passing every step so far.
        candidates: Candidates passing every candidate cut (and :meth:`keep`)
            so far, jagged; None until the first candidate cut.
        steps: Step name -> events passing it and every earlier step, in order.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self.event: BoolArray = np.ones(n, dtype=bool)
        self.candidates: Any = None
        self.steps: dict[str, BoolArray] = {}

    def keep(self, mask: Any, *, at: BoolArray | None = None) -> None:
        """Restrict the candidates (jagged mask) without recording a step.

        Args:
            mask: Per candidate; None counts as False.
            at: The events ``mask`` is given for (see :meth:`require`).
        """
        if not _is_jagged(mask):
            msg = "Cuts.keep takes a per-candidate (jagged) mask"
            raise TypeError(msg)
        filled = ak.fill_none(mask, False)
        if at is not None:
            # The other events get no candidates.
            counts = np.zeros(self.n, dtype=np.int64)
            counts[at] = ak.to_numpy(ak.num(filled, axis=1))
            filled = ak.unflatten(ak.flatten(filled, axis=1), counts)
        self.candidates = filled if self.candidates is None else self.candidates & filled

    def require(self, name: str, mask: Any, *, at: BoolArray | None = None) -> None:
        """Apply cut ``name`` after the previous ones and record it as a step.

        Args:
            name: Step name (unique: it is the cutflow entry).
            mask: Per event (flat) or per candidate (jagged); None counts as False.
            at: The events ``mask`` is given for (a mask over all events, e.g.
                an earlier ``cuts.event`` when the rest of the selection only
                runs on the events that passed so far); the others fail.

        Raises:
            ValueError: A repeated name, or a mask of the wrong length.
        """
        if name in self.steps:
            msg = f"cut {name!r} is required twice"
            raise ValueError(msg)
        expected = self.n if at is None else int(np.count_nonzero(at))
        if len(mask) != expected:
            msg = f"cut {name!r}: mask has {len(mask)} entries, expected {expected} events"
            raise ValueError(msg)
        if _is_jagged(mask):
            self.keep(mask, at=at)
            passed = np.asarray(ak.to_numpy(ak.any(self.candidates, axis=1)), dtype=bool)
        else:
            passed = event_mask(mask)
            if at is not None:
                full = np.zeros(self.n, dtype=bool)
                full[at] = passed
                passed = full
        self.event = self.event & passed
        self.steps[name] = self.event

    def block(self, start: int, stop: int) -> Cuts:
        """The cuts of events ``start`` to ``stop`` (one block of a stacked pass), same steps.

        Example:
            >>> cuts = Cuts(4)
            >>> cuts.require("even", np.array([True, False, True, False]))
            >>> cuts.block(2, 4).steps["even"].tolist()
            [True, False]
        """
        part = Cuts(stop - start)
        part.event = self.event[start:stop]
        part.candidates = None if self.candidates is None else self.candidates[start:stop]
        part.steps = {name: mask[start:stop] for name, mask in self.steps.items()}
        return part

    def selected_candidates(self) -> Any:
        """The candidate mask restricted to the events passing every step (None: no candidates)."""
        if self.candidates is None:
            return None
        return self.candidates & self.event
