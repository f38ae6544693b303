"""The page's unit view: pick a latent unit, see what it codes, set its value in the code of A.

Gradio wiring only. The numbers are :mod:`demo.units` (computed at start-up with the rest of a
checkpoint's analysis), the images :mod:`demo.views`. The page's runs write the model and the
image A as the model takes it into the :class:`gr.State` that :func:`unit_view` returns; each new
value refreshes the view: the unit menu (every unit, most often active on the test images first),
the unit's row (its decoder image, then its top-activating test images), and the slider, which
spans the unit's observed values and starts at h_j of E(A), with D(E(A)) beside it. Moving the
slider decodes E(A) with h_j set to the slider's value. A pick stays when A changes; a new model
starts at its most often active unit.
"""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: set before gradio is imported
import gradio as gr  # noqa: E402

from demo.handlers import friendly  # noqa: E402
from demo.predictor import Predictor  # noqa: E402
from demo.units import edit_unit, slider_range, unit_choices, unit_label  # noqa: E402
from demo.views import SEEN_PX, UNIT_TILE_PX, as_hwc, unit_image, zoom, zoom_for  # noqa: E402

HEADING = """\
### One unit of the code
Pick a latent unit: first what it codes (its decoder image, then the test images that drive it hardest), then its \
value in the code of **A**: the slider sets h_j in E(A), and the image on the right is D(E(A) with h_j set).
"""


def unit_view(predictor: Predictor, first: str | None) -> gr.State:
    """The view, built inside the page's Blocks with its events wired; the State the page's runs write:
    ``(model name, A as the model takes it, or None)``. ``first``: the model the page opens on."""
    units = predictor.loaded(first).insight.units if first else None
    gr.Markdown(HEADING, elem_id="unit-heading")
    source = gr.State(None)
    code = gr.State(None)  # E(A) (d,), or None without A
    shown = gr.State(first)  # the model the menu lists the units of
    with gr.Row():
        unit = gr.Dropdown(unit_choices(units) if units else [], value=int(units.order[0]) if units else None,
                           label="unit (most often active on the test images first)", elem_id="unit",
                           interactive=True, scale=2)
        value = gr.Slider(0, 1, value=0, label="h_j in the code of A", elem_id="unit-value", scale=3)
    note = gr.Markdown("", elem_id="unit-note")
    with gr.Row():
        codes = gr.Image(label="what the unit codes: its decoder image, then its top test images",
                         elem_id="unit-codes", format="png", height=SEEN_PX, scale=3)
        edited = gr.Image(label="D(E(A) with h_j set)", elem_id="unit-recon", format="png", height=SEEN_PX, scale=1)

    def view_of(name: str, a: np.ndarray | None, j: int) -> tuple:
        """Slider, unit row, edited image, note and E(A) for unit ``j`` of model ``name`` (A may be None)."""
        m = predictor.loaded(name)
        u = m.insight.units
        h = predictor.see(name, [a]).codes[0] if a is not None else None  # (d,)
        current = float(h[j]) if h is not None else None
        lo, hi, step = slider_range(u, j, current)
        row = unit_image(u, j, m.reference.test_images, zoom_for(m.frame.shape, UNIT_TILE_PX))
        image = zoom(as_hwc(edit_unit(m.model, h, j, current)), zoom_for(m.frame.shape, SEEN_PX)) if h is not None \
            else None
        seen = f"on the test codes from {u.low[j]:.3g} to {u.high[j]:.3g}"
        there = f"; in E(A) it is **{current:.3g}**" if h is not None else "; draw A to set it in its code"
        shown_value = float(f"{current:.4g}") if h is not None else lo  # the image is of h_j itself, unrounded
        slider = gr.update(minimum=lo, maximum=hi, step=step, value=min(max(shown_value, lo), hi),
                           interactive=h is not None)
        return slider, row, image, f"`{name}`, {unit_label(u, j)}; {seen}{there}.", h

    @friendly
    def refresh(src, j, was):
        """A new A or a new model: the menu (a new model starts at its most often active unit) and the view."""
        if not src:
            return (gr.skip(),) * 7
        name, a = src
        units = predictor.loaded(name).insight.units
        j = int(units.order[0]) if name != was or j is None else int(j)
        menu = gr.update(choices=unit_choices(units), value=j)
        return menu, *view_of(name, a, j), name

    @friendly
    def pick(src, j):
        """Another unit: its row, and the slider at its value in E(A)."""
        if not src or j is None:
            return (gr.skip(),) * 5
        return view_of(src[0], src[1], int(j))

    @friendly
    def move(src, j, h, v):
        """The slider moved: D(E(A) with h_j := v)."""
        if not src or j is None or h is None:
            return gr.skip()
        m = predictor.loaded(src[0])
        return zoom(as_hwc(edit_unit(m.model, h, int(j), float(v))), zoom_for(m.frame.shape, SEEN_PX))

    source.change(refresh, [source, unit, shown], [unit, value, codes, edited, note, code, shown],
                  concurrency_id="model", api_visibility="private")
    unit.input(pick, [source, unit], [value, codes, edited, note, code], concurrency_id="model",
               api_visibility="private")
    value.input(move, [source, unit, code, value], edited, trigger_mode="always_last", show_progress="hidden",
                concurrency_id="model", api_visibility="private")
    return source
