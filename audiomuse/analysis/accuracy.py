"""Scores of tempo and key estimates against ground truth, as the MIR literature reports them.

* ``acc1``: the estimate is within 4 % of the true tempo (Gouyon et al. 2006, "Accuracy 1").
* ``acc2``: the same, also accepting the octave and triple errors: 2x, 1/2x, 3x or 1/3x the true
  tempo within 4 % ("Accuracy 2"; 3x and 1/3x cover the pulse of compound and triple meters).
* ``mirex_key_score``: the MIREX key-detection weighted score: 1 for the same key, 0.5 for the
  key a perfect fifth above in the same mode (also a fifth below with
  ``allow_descending_fifths``, as mir_eval's option), 0.3 for the relative key (C major vs A
  minor), 0.2 for the parallel key (C major vs C minor), 0 otherwise.

Tonics are names: C, C#, Db, ... B (sharps and flats, any case); modes "major" or "minor".
"""

from __future__ import annotations

from collections.abc import Iterable

TEMPO_TOLERANCE = 0.04
ACC2_FACTORS = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
_PITCH = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def acc1(estimate: float, truth: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """True when ``estimate`` BPM is within ``tolerance`` (relative, 4 %) of ``truth`` BPM."""
    if not truth > 0 or not estimate > 0:
        return False
    return abs(estimate - truth) <= tolerance * truth


def acc2(estimate: float, truth: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """True when ``estimate`` is within ``tolerance`` of ``truth`` times 1, 2, 1/2, 3 or 1/3."""
    return any(acc1(estimate, truth * f, tolerance) for f in ACC2_FACTORS)


def pitch_class(tonic: str) -> int:
    """0-11 for a tonic name: 'C' -> 0, 'C#'/'Db' -> 1, ... 'B' -> 11 ('Cb' -> 11, 'B#' -> 0)."""
    name = tonic.strip()
    if not name or name[0].upper() not in _PITCH:
        raise ValueError(f"not a tonic: {tonic!r}")
    pc = _PITCH[name[0].upper()]
    for accidental in name[1:]:
        if accidental in "#♯":
            pc += 1
        elif accidental in "b♭":
            pc -= 1
        else:
            raise ValueError(f"not a tonic: {tonic!r}")
    return pc % 12


def _mode(mode: str) -> str:
    m = mode.strip().lower()
    if m not in ("major", "minor"):
        raise ValueError(f"not a mode: {mode!r}")
    return m


def mirex_key_score(est_tonic: str, est_mode: str, true_tonic: str, true_mode: str,
                    allow_descending_fifths: bool = False) -> float:
    """The MIREX weighted score of an estimated key against the true key (see the module)."""
    est, ref = pitch_class(est_tonic), pitch_class(true_tonic)
    est_m, ref_m = _mode(est_mode), _mode(true_mode)
    if est == ref and est_m == ref_m:
        return 1.0
    if est_m == ref_m:
        if (est - ref) % 12 == 7 or (allow_descending_fifths and (ref - est) % 12 == 7):
            return 0.5
        return 0.0
    if ref_m == "major" and (ref - est) % 12 == 3:  # C major -> A minor
        return 0.3
    if ref_m == "minor" and (est - ref) % 12 == 3:  # A minor -> C major
        return 0.3
    if est == ref:
        return 0.2
    return 0.0


def mean(values: Iterable[float]) -> float:
    """The mean of booleans or scores (0.0 for none)."""
    values = [float(v) for v in values]
    return sum(values) / len(values) if values else 0.0
