"""Why a model missed its reconstruction target: what its learning curve and its final net say.

Two measurements, and a diagnosis read from them::

    last-quarter gain   validation PSNR at the last epoch − at the epoch three quarters through
                        (:func:`regae.study.curves.last_quarter_gain`); below FLAT_DB the curve is flat
    generalisation gap  PSNR of the final net on GAP_IMAGES training images − on the held-out
                        validation images, with an unpaired bootstrap interval and p over the images

    rising     the curve still gains ≥ FLAT_DB: the budget is what stops it
    gap        flat, and the gap's 95 % interval lies at or above 1 dB (p < α): generalisation
    converged  flat without such a gap: this net and optimiser converge below the target

The study's deep AE (:mod:`regae.study.experiments.pca_vs_ae`) and the Hinton & Salakhutdinov
reproduction (:mod:`regae.study.reproductions.hinton2006`) both explain a missed target with it.
"""

from __future__ import annotations

from regae.model.inference import reconstruct
from regae.reports.stats import ALPHA, fmt_p, pooled_psnr, unpaired_psnr_difference
from regae.study.compare import image_errors

#: a validation curve that gained less than this (dB) over its last quarter of epochs has flattened
FLAT_DB = 0.25
#: a train/validation gap whose interval's lower end reaches this (dB) counts as a generalisation gap
GAP_DB = 1.0
#: training images the final net is scored on against the held-out validation images
GAP_IMAGES = 5000


def generalisation_gap(model, x_train, x_val, seed: int = 0) -> dict:
    """PSNR of ``model`` on the first GAP_IMAGES training images minus on the validation images,
    with an unpaired bootstrap interval and p over the images (two different sets)."""
    err_train = image_errors(reconstruct(model, x_train[:GAP_IMAGES]), x_train[:GAP_IMAGES])
    err_val = image_errors(reconstruct(model, x_val), x_val)
    gap = unpaired_psnr_difference(err_train, err_val, seed=seed)
    gap.update(train_psnr=float(pooled_psnr(err_train)), val_psnr=float(pooled_psnr(err_val)),
               n_train=len(err_train), n_val=len(err_val))
    return gap


def gap_text(gap: dict) -> str:
    """'2.71 dB higher on the training images (95 % CI [...], p ...)' or 'no significant difference'."""
    ci, p = f"95 % CI [{gap['ci_low']:+.2f}, {gap['ci_high']:+.2f}] dB", fmt_p(gap["p"], gap["n_boot"])
    if gap["p"] >= ALPHA:
        return f"no significant difference ({gap['estimate']:+.2f} dB, {ci}, {p})"
    side = "training" if gap["estimate"] > 0 else "validation"
    return f"{abs(gap['estimate']):.2f} dB higher on the {side} images ({ci}, {p})"


def diagnosis(last_quarter_gain: float, gap: dict) -> str:
    """'rising', 'gap' or 'converged' (see the module's docstring)."""
    if last_quarter_gain >= FLAT_DB:
        return "rising"
    return "gap" if gap["p"] < ALPHA and gap["ci_low"] >= GAP_DB else "converged"


def why_missed(last_quarter_gain: float, gap: dict) -> tuple[str, str]:
    """The diagnosis and its sentence, which starts with a space and ends with a full stop."""
    kind = diagnosis(last_quarter_gain, gap)
    if kind == "rising":
        return kind, (f" So the target is missed at this budget while the curve is still rising "
                      f"({last_quarter_gain:+.2f} dB over the last quarter): a longer budget buys more.")
    if kind == "gap":
        return kind, (f" So the target is missed with the curve flat and a generalisation gap: the final net is at "
                      f"least {gap['ci_low']:.2f} dB (lower end of the 95 % interval) better on images it was trained "
                      "on than on held-out ones. A longer budget of the same training does not address such a gap.")
    return kind, (f" So the target is missed: the curve has flattened ({last_quarter_gain:+.2f} dB over the last "
                  f"quarter) without a train/validation gap of {GAP_DB:g} dB or more, so this net and optimiser have "
                  "converged below it.")
