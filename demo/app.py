"""The Gradio app: draw (or upload, or draw from MNIST) two digits, see what the model makes of them.

Checkpoints of any dataset: one-channel models get drawing canvases, colour models image
uploads, and switching the model switches the input size, the canvases, the random pair's data
and the map. Only wiring lives here: canvas or upload -> model input is :mod:`demo.draw`; the
models, classes, map and interpolation are :mod:`demo.predictor` (with :mod:`demo.insight`,
:mod:`demo.latent_map` and :mod:`demo.card`); what the page shows of them is :mod:`demo.views`, and the
unit view (one latent unit: what it codes, and its value in the code of A) is :mod:`demo.unit_view`.
``build_demo`` returns the Blocks; ``python -m demo`` launches it. Each page opens on a random
test pair of the first model's data, already run (``demo.load``): canvases, panels, classes,
strips, table, the map with both routes and the unit view are filled before the first stroke. The Run
button turns a failure into a one-line ``gr.Error`` toast (bad input, missing or corrupt checkpoint,
an unexpected bug); the live update after each stroke shows what is drawn so far and puts input
problems in the status line. Either way the server keeps running. Canvases and uploads alike are
decoded by :mod:`demo.draw` with the same limits (file size, then pixel count from the image
header, before any decoding); a checkpoint that cannot be used is listed with its reason, and
the others are served.
"""

from __future__ import annotations

import functools
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: set before gradio is imported
import gradio as gr  # noqa: E402

from demo.draw import CANVAS, InputImageError, for_canvas, prepare, read_upload, sketch_image  # noqa: E402
from demo.handlers import friendly  # noqa: E402
from demo.predictor import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS, Predictor  # noqa: E402
from demo.unit_view import unit_view  # noqa: E402
from demo.views import (  # noqa: E402
    SEEN_PX,
    TILE_PX,
    as_hwc,
    cards,
    input_view,
    label_value,
    strips_image,
    table_rows,
    zoom,
    zoom_for,
)

DEFAULT_CHECKPOINTS = Path(__file__).with_name("checkpoints")
MAX_FILE_SIZE = "10mb"  # Gradio refuses larger uploads before any handler runs
CONCURRENCY = 1  # handlers at a time; see benchmarks/README.md ("Demo under load")
MAX_QUEUE = 256  # requests waiting beyond that are refused with a message, not left to time out
DELETE_CACHE = (600, 3600)  # every 10 min, delete served/uploaded files older than an hour
# for launch(css=...): uploads of small images (a 32x32 test image) fill their box, pixels visible
CSS = "#photo-a img, #photo-b img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain; }"

INTRO = """\
## regae: pixel mix vs latent mix
Two digits **A** and **B**, and the images between them made two ways: by mixing their pixels, and by mixing their \
codes. The page opens on a random pair; draw your own on the canvases (clear them first with their bin icon).
"""

ABOUT = """\
Draw a digit on each canvas: everything updates when a stroke ends (**Run** redoes it, e.g. after an
upload; or take a random test pair). Each drawing is cropped, scaled to 20 px and centred on its
centre of mass in a 28x28 frame, the way MNIST was made; that 28x28 is what the autoencoder sees.
With α the weight of **B**, the strips show **D(E((1−α)A + αB))** (encode the mixed pixels) above
**D((1−α)E(A) + αE(B))** (mix the codes), with PSNR between them and ‖h_α − h'_α‖₂ per α (∞ dB and 0
at the ends, where both are the same image). The class of each code comes from a classifier on the
model's codes. **The map** places every code with one linear projection fitted on the training codes,
Fisher's linear discriminant (axes LD 1, LD 2: the directions that pull the classes apart; principal
components PC 1, PC 2 for data without labels), and shows the test codes by class with both routes
from A to B: the codes of the pixel mixes (magenta) and the straight latent line (black). How well
the classes separate on it is measured, not assumed: the card's last column is the test accuracy
of a 5-nearest-neighbour classifier on the map's 2-D points. **One unit of the code**, at the bottom:
a latent unit's decoder image and the test images that drive it hardest, and a slider that sets its value in E(A).
Checkpoints of other datasets work too: one-channel models get canvases (the whole drawing is resized
to the model's size), colour models take uploads, and the random pair comes from the model's own data.
"""


def canvas_files(canvas: gr.Sketchpad, payload) -> dict | None:
    """A canvas value with its images undecoded, to be read with the upload limits (the canvases' preprocess).

    Gradio's own ``preprocess`` decodes the background, every layer and the composite at full
    size, whatever size their PNG headers state, before any handler runs: a 16 KB 6000x6000 PNG
    sent as a canvas value took the server from 1 to 2.8 GB, and 13000x13000 to a MemoryError.
    This gives ``{"background", "layers": [], "composite"}`` with each image a file path in
    Gradio's cache (or the bytes the editor sent as a blob), and :func:`demo.draw.sketch_image`
    reads only the one it needs, header first (:func:`demo.draw.read_image`).
    """
    if payload is None:
        return None
    background = composite = None
    if payload.id is not None:  # sent as blobs: the component keeps the bytes until now
        blobs = canvas.blob_storage.pop(payload.id, None)
        if blobs is not None:
            background, composite = blobs.background, blobs.composite
    else:
        background = payload.background.path if payload.background is not None else None
        composite = payload.composite.path if payload.composite is not None else None
    return {"background": background, "layers": [], "composite": composite}


def undecoded(canvas: gr.Sketchpad) -> gr.Sketchpad:
    """``canvas`` with :func:`canvas_files` as its preprocess; the browser gets the same editor.

    Set on the instance, not by subclassing: Gradio writes a ``.pyi`` stub next to the module of
    any subclass of its components, at import."""
    canvas.preprocess = functools.partial(canvas_files, canvas)
    return canvas


def given(value) -> bool:
    """Whether an input holds anything at all (an untouched canvas holds no image)."""
    if isinstance(value, dict):
        return value.get("composite") is not None or value.get("background") is not None
    return value is not None and not (isinstance(value, str) and not value)


def build_demo(
    checkpoint_dir: str | Path = DEFAULT_CHECKPOINTS,
    *,
    device: str = "cpu",
    rng: np.random.Generator | None = None,
    predictor: Predictor | None = None,
    concurrency: int = CONCURRENCY,
    max_queue: int | None = MAX_QUEUE,
) -> gr.Blocks:
    """The Blocks app over the checkpoints in ``checkpoint_dir``, each loaded and analysed now, once.

    ``concurrency`` handlers run at a time (all events share one group) and at most ``max_queue``
    requests wait; both come from the load measurement in benchmarks/README.md.
    """
    predictor = predictor if predictor is not None else Predictor(checkpoint_dir, device=device)
    status = predictor.status()  # loads, and analyses, the usable models now: the first Run is fast
    usable = [n for n, err in status.items() if err is None]
    rng = rng if rng is not None else np.random.default_rng()

    def outputs_for(model_name: str, images: dict[str, np.ndarray | None], steps: int, note: str = "") -> tuple:
        """All outputs for the images present (None: that image's panels are cleared)."""
        t0 = time.perf_counter()
        m = predictor.loaded(model_name)
        view = input_view(model_name, m)
        clf, latent_map = m.insight.classifier, m.insight.map
        names = clf.class_names if clf is not None else None
        z_seen, z_tile = zoom_for(m.frame.shape, SEEN_PX), zoom_for(m.frame.shape, TILE_PX)
        noun, verb = view.noun.lower(), "draw" if view.draw else "upload"
        present = [k for k in ("A", "B") if images[k] is not None]
        panels = {k: (None, None, None) for k in ("A", "B")}
        strips, table, routes, marks = None, [], {}, {}
        if len(present) == 2:
            result = predictor.run(model_name, images["A"], images["B"], int(steps))
            seen, recon, proba = result.inputs, result.reconstructions, result.proba
            points = np.stack([result.latent_points[0], result.latent_points[-1]])
            it = result.interpolation
            strips = strips_image(np.stack([as_hwc(t) for t in it.pixel]), np.stack([as_hwc(t) for t in it.latent]),
                                  z_tile)
            table = table_rows(result, names)
            routes = {"pixel_route": result.pixel_points, "latent_route": result.latent_points}
            done = f"{len(it.alphas)} steps"
        elif present:
            s = predictor.see(model_name, [images[k] for k in present])
            seen, recon, proba, points = s.inputs, s.reconstructions, s.proba, s.points
            missing = "B" if present == ["A"] else "A"
            done = f"{noun} {present[0]} only ({verb} {missing} for the interpolation)"
        else:
            return (None,) * 7 + (latent_map.background, [], f"`{model_name}`: {verb} two {noun}s. {note}".strip(),
                                  (model_name, None))
        for i, k in enumerate(present):
            label = label_value(proba[i], names) if proba is not None else None
            panels[k] = (zoom(as_hwc(seen[i]), z_seen), zoom(as_hwc(recon[i]), z_seen), label)
            marks[k] = points[i]
        ms = 1000 * (time.perf_counter() - t0)
        timing = f"`{model_name}`: {done}, computed in {ms:.0f} ms on {predictor.device}. {note}".strip()
        (sa, ra, ca), (sb, rb, cb) = panels["A"], panels["B"]
        return sa, sb, ra, rb, ca, cb, strips, latent_map.draw(marks, **routes), table, timing, (model_name, images["A"])

    def read_inputs(model_name: str, canvases: tuple, photos: tuple, strict: bool) -> tuple[dict, list[str]]:
        """{"A": image or None, "B": ...} as the model takes them, and notes for the status line.

        ``strict`` (Run): a missing or unreadable input is a ``gr.Error``; otherwise (the live
        update) it is left out, with a note unless it is simply not there yet.
        """
        m = predictor.loaded(model_name)
        noun = input_view(model_name, m).noun
        images, notes = {}, []
        for label, canvas, photo in zip(("A", "B"), canvases, photos):
            sent = given(photo) if m.frame.colour else given(canvas)
            try:
                if m.frame.colour:
                    raw = read_upload(photo, colour=True) if photo else None
                else:
                    raw = sketch_image(canvas)  # the canvas's file, read with the upload limits
                p = prepare(raw, m.frame)
                images[label] = p.image
                if p.note:
                    if strict:
                        gr.Warning(f"{noun} {label}: {p.note}")
                    else:
                        notes.append(f"{noun} {label}: {p.note}.")
            except InputImageError as exc:
                if strict:
                    raise gr.Error(f"{noun} {label}: {exc}", print_exception=False) from None
                images[label] = None
                if sent and "empty" not in str(exc):  # e.g. too large, unreadable: said in the status line
                    notes.append(f"{noun} {label}: {exc}.")
        return images, notes

    @friendly
    def run(model_name, value_a, value_b, steps, photo_a=None, photo_b=None):
        """Both images, strictly: an empty or unreadable one is an error message."""
        if not model_name:
            raise gr.Error(f"No usable checkpoint in {predictor.checkpoint_dir}; see the note at the top.")
        images, _ = read_inputs(model_name, (value_a, value_b), (photo_a, photo_b), strict=True)
        return outputs_for(model_name, images, steps)

    @friendly
    def live(model_name, value_a, value_b, steps, photo_a=None, photo_b=None):
        """After each stroke or upload: whatever is there so far; problems go in the status line, not in toasts."""
        if not model_name:
            return (gr.skip(),) * len(outputs)
        images, notes = read_inputs(model_name, (value_a, value_b), (photo_a, photo_b), strict=False)
        return outputs_for(model_name, images, steps, " ".join(notes))

    def pick_pair(model_name: str) -> tuple[list[np.ndarray], str]:
        """Two test images of different classes (two different images if unlabelled) from the model's own data,
        (H, W) or (C, H, W) uint8, and a line naming them."""
        m = predictor.loaded(model_name)
        ref = m.reference
        labels = ref.test_labels.numpy()
        if len(labels) < 2:
            raise gr.Error(f"{ref.name} has {len(labels)} test image; a pair needs two.", print_exception=False)
        i = int(rng.integers(len(labels)))
        others = np.flatnonzero(labels != labels[i]) if ref.class_names is not None else np.array([], dtype=int)
        if len(others) == 0:  # unlabelled, or one class only: any other image
            others = np.delete(np.arange(len(labels)), i)
        j = int(others[rng.integers(len(others))])
        if ref.class_names is None:
            note = f"{ref.name} test images #{i} and #{j} (no labels)."
        else:
            note = (f"{ref.name} test images #{i} (label {ref.class_names[labels[i]]}) and "
                    f"#{j} (label {ref.class_names[labels[j]]}).")
        return [ref.test_images[k].numpy() for k in (i, j)], note

    def shown_inputs(model_name: str, images: list[np.ndarray]) -> tuple:
        """The two canvases' and the two image boxes' values for a pair (what is not used is left as it is)."""
        if predictor.loaded(model_name).frame.colour:
            return gr.skip(), gr.skip(), *(im.transpose(1, 2, 0) for im in images)
        fill = not predictor.loaded(model_name).frame.mnist
        return *(for_canvas(im, fill=fill) for im in images), gr.skip(), gr.skip()

    @friendly
    def random_pair(model_name):
        """Two test images of the model's own data onto the canvases (or image boxes), and a line naming them."""
        if not model_name:
            raise gr.Error(f"No usable checkpoint in {predictor.checkpoint_dir}; see the note at the top.")
        images, note = pick_pair(model_name)
        return *shown_inputs(model_name, images), note

    @friendly
    def opening(model_name, steps):
        """When the page opens: a random test pair, already run (canvases, panels, strips, map, table)."""
        if not model_name:  # nothing to show; the cards at the top say why
            return (gr.skip(),) * (5 + len(outputs))
        images, note = pick_pair(model_name)
        frame = predictor.loaded(model_name).frame
        prepared = {k: prepare(for_canvas(im, fill=not frame.mnist) if not frame.colour else im.transpose(1, 2, 0),
                               frame).image for k, im in zip("AB", images)}
        return (*shown_inputs(model_name, images), f"Opened on a random pair: {note}",
                *outputs_for(model_name, prepared, steps))

    @friendly
    def upload(path, model_name=None):
        """An uploaded file onto a canvas (one-channel models; colour models take uploads in their image boxes)."""
        if path is None:
            raise gr.Error("No file received.")
        frame = predictor.loaded(model_name).frame if model_name else None
        return for_canvas(read_upload(path), fill=frame is not None and not frame.mnist)

    @friendly
    def widgets(model_name):
        """The inputs and labels the page shows for ``model_name``, when the model changes."""
        v = input_view(model_name, predictor.loaded(model_name))
        return (
            *(gr.update(visible=v.draw, label=f"{v.noun} {k}") for k in "AB"),  # canvases
            *(gr.update(visible=not v.draw) for _ in "AB"),  # image uploads (colour models)
            *(gr.update(visible=v.draw) for _ in "AB"),  # upload-to-canvas buttons
            *(gr.update(label=f"{k}, {v.seen_label}") for k in "AB"),  # what the model sees
            *(gr.update(visible=v.classes) for _ in "AB"),  # class labels
            gr.update(value=v.pick), v.note, "",
        )

    first = input_view(usable[0], predictor.loaded(usable[0])) if usable else None
    first_map = predictor.loaded(usable[0]).insight.map.background if usable else None
    draw = first is None or first.draw
    noun = first.noun if first else "Digit"
    table_md, notes_md = cards(predictor.checkpoint_dir, predictor, status)
    with gr.Blocks(title="regae: draw two digits", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO, elem_id="intro")
        with gr.Accordion("About this demo", open=False, elem_id="about"):
            gr.Markdown(ABOUT)
            gr.Markdown(notes_md, elem_id="card-notes")
        gr.Markdown(table_md, elem_id="status")
        with gr.Row():
            model = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model (checkpoint)",
                                elem_id="model", interactive=True)
            steps = gr.Slider(MIN_STEPS, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="α steps (0 to 1)",
                              elem_id="steps")
        input_note = gr.Markdown(first.note if first else "", elem_id="input")
        canvases, photos, buttons, seen, recon, classes = [], [], [], [], [], []
        with gr.Row():
            for label in ("A", "B"):
                with gr.Column():
                    canvas = undecoded(gr.Sketchpad(  # its value: file paths, read by sketch_image with limits
                        label=f"{noun} {label}", elem_id=f"canvas-{label.lower()}", type="filepath",
                        canvas_size=(CANVAS, CANVAS), fixed_canvas=True, layers=False, transforms=(),
                        brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=18),
                        format="png", visible=draw,
                    ))
                    # Colour models: the file as uploaded (image_mode None: Gradio neither decodes nor
                    # re-encodes it; read_upload does, with its size limits).
                    photo = gr.Image(label=f"Image {label} (upload)", elem_id=f"photo-{label.lower()}",
                                     type="filepath", image_mode=None, sources=["upload", "clipboard"],
                                     format="png", height=CANVAS, visible=not draw)
                    button = gr.UploadButton(f"Upload an image for {label}", file_types=["image"],
                                             elem_id=f"upload-{label.lower()}", size="sm", visible=draw)
                    button.upload(upload, [button, model], canvas)
                    canvases.append(canvas)
                    photos.append(photo)
                    buttons.append(button)
                    with gr.Row():
                        # PNG, not Gradio's default WebP: the pixels shown are the pixels computed.
                        seen.append(gr.Image(label=f"{label}, {first.seen_label if first else '28x28'}",
                                             elem_id=f"seen-{label.lower()}", format="png", height=180))
                        recon.append(gr.Image(label=f"D(E({label}))", elem_id=f"recon-{label.lower()}",
                                              format="png", height=180))
                        classes.append(gr.Label(label=f"class of E({label})", elem_id=f"class-{label.lower()}",
                                                num_top_classes=3, visible=first is None or first.classes))
        with gr.Row():
            go = gr.Button("Run", variant="primary", elem_id="run")
            pick = gr.Button(first.pick if first else "Random MNIST test pair", elem_id="random")
        source = gr.Markdown("", elem_id="source")
        timing = gr.Markdown("", elem_id="timing")
        strips = gr.Image(label="A → B, top: D(E(pixel mix)), bottom: D(latent mix)", elem_id="strips",
                          format="png")
        with gr.Row():
            latent_map = gr.Image(first_map, label="the codes on a map (a linear projection fitted on the training "
                                  "codes; see its axes)", elem_id="map", format="png")
            table = gr.Dataframe(headers=["α", "class E(pixel mix)", "class latent mix", "PSNR dB", "‖h_α − h'_α‖₂"],
                                 datatype=["str"] * 5, interactive=False, elem_id="table")
        unit_source = unit_view(predictor, usable[0] if usable else None)  # (model, A) from each run below

        outputs = [seen[0], seen[1], recon[0], recon[1], classes[0], classes[1], strips, latent_map, table, timing,
                   unit_source]
        inputs = [model, canvases[0], canvases[1], steps, photos[0], photos[1]]
        go.click(run, inputs, outputs, api_name="run", concurrency_id="model")
        # After a stroke ends (the editor's change event fires on pointer-up), or an upload, debounced:
        # "always_last" runs at most one more update once the pending one has finished.
        gr.on([canvases[0].change, canvases[1].change, photos[0].change, photos[1].change, model.change,
               steps.release], live, inputs, outputs, trigger_mode="always_last", show_progress="minimal",
              concurrency_id="model", api_name="live", api_visibility="undocumented")
        # The editor opens with no tool selected: pick the brush so a visitor can draw at once.
        select_brush = """() => { setTimeout(() => {
            for (const id of ['canvas-a', 'canvas-b']) {
                const b = document.querySelector(`#${id} button[aria-label="Brush"]`);
                if (b) b.click();
            } }, 500); }"""
        for canvas in canvases:  # clearing a canvas unselects the brush: select it again, ready to draw
            canvas.clear(None, None, None, js=select_brush, api_visibility="private")
        model.change(widgets, model, [*canvases, *photos, *buttons, *seen, *classes, pick, input_note, source],
                     api_visibility="private", concurrency_id="model").then(None, None, None, js=select_brush)
        pick.click(random_pair, model, [canvases[0], canvases[1], photos[0], photos[1], source],
                   api_name="random_pair").success(run, inputs, outputs, api_visibility="private",
                                                   concurrency_id="model")
        # The page opens on a random test pair, already run: something to look at before the first stroke.
        demo.load(opening, [model, steps], [canvases[0], canvases[1], photos[0], photos[1], source, *outputs],
                  api_visibility="private", concurrency_id="model").then(None, None, None, js=select_brush)
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo
