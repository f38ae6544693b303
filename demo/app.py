"""The Gradio app: draw (or upload, or draw from MNIST) two digits, see what the model makes of them.

Only wiring lives here: the canvas -> 28x28 transform is :mod:`demo.draw`; the models, classes,
map and interpolation are :mod:`demo.predictor` (with :mod:`demo.insight`, :mod:`demo.latent_map`
and :mod:`demo.card`). ``build_demo`` returns the Blocks; ``python -m demo`` launches it. The Run
button turns a failure into a one-line ``gr.Error`` toast (bad input, missing or corrupt checkpoint,
an unexpected bug); the live update after each stroke shows what is drawn so far and puts input
problems in the status line. Either way the server keeps running.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: set before gradio is imported
import gradio as gr  # noqa: E402

from demo.card import describe_model, preset_line, training_line  # noqa: E402
from demo.draw import CANVAS, InputImageError, for_canvas, prepare, read_upload, sketch_image  # noqa: E402
from demo.predictor import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS, Predictor, Result  # noqa: E402
from regae.errors import RegaeError  # noqa: E402

DEFAULT_CHECKPOINTS = Path(__file__).with_name("checkpoints")
ZOOM_SEEN = 6  # 28 -> 168 px for the "what the model sees" panels
ZOOM_STRIP = 4  # 28 -> 112 px per interpolation tile
GAP = 4  # px between tiles
MAX_FILE_SIZE = "10mb"  # Gradio refuses larger uploads before any handler runs
CONCURRENCY = 1  # handlers at a time; see benchmarks/README.md ("Demo under load")
MAX_QUEUE = 256  # requests waiting beyond that are refused with a message, not left to time out
DELETE_CACHE = (600, 3600)  # every 10 min, delete served/uploaded files older than an hour

log = logging.getLogger("demo")

INTRO = """\
## regae: pixel mix vs latent mix
Draw a digit on each canvas: everything updates when a stroke ends (**Run** redoes it, e.g. after an
upload; or take a random MNIST test pair). Each drawing is cropped, scaled to 20 px and centred on its
centre of mass in a 28x28 frame, the way MNIST was made; that 28x28 is what the autoencoder sees.
With α the weight of **B**, the strips show **D(E((1−α)A + αB))** (encode the mixed pixels) above
**D((1−α)E(A) + αE(B))** (mix the codes), with PSNR between them and ‖h_α − h'_α‖₂ per α (∞ dB and 0
at the ends, where both are the same image). The class of each code comes from a classifier on the
model's codes; the map shows the test codes on their first two principal components, with both
routes from A to B: the codes of the pixel mixes (magenta) and the straight latent line (black).
"""


def friendly(fn):
    """Run a handler; any failure becomes a short ``gr.Error`` message instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except RegaeError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug: keep its traceback in the server log only
            log.exception("demo handler %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}); the app is still running, "
                           "please try again.", print_exception=False) from None

    return wrapper


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """(H, W) or (H, W, 3) float in [0, 1] -> (H*f, W*f[, 3]) uint8, nearest neighbour (pixels stay visible)."""
    v = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return v.repeat(factor, 0).repeat(factor, 1)


def as_hwc(t) -> np.ndarray:
    """One image tensor (C, H, W) -> (H, W) for grey, (H, W, C) for colour."""
    a = t.numpy()
    return a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)


def strips_image(pixel: np.ndarray, latent: np.ndarray, zoom_factor: int = ZOOM_STRIP, gap: int = GAP) -> np.ndarray:
    """Two rows of n tiles, (n, H, W) each -> one grey image (2T + 3g, nT + (n+1)g) uint8, T = H * zoom."""
    n, th, tw = len(pixel), pixel.shape[1] * zoom_factor, pixel.shape[2] * zoom_factor
    out = np.full((2 * th + 3 * gap, n * tw + (n + 1) * gap, *pixel.shape[3:]), 96, dtype=np.uint8)  # grey gutters
    for row, images in enumerate((pixel, latent)):
        top = gap + row * (th + gap)
        for i, im in enumerate(images):
            left = gap + i * (tw + gap)
            out[top : top + th, left : left + tw] = zoom(im, zoom_factor)
    return out


def fmt_psnr(value: float) -> str:
    return "∞" if math.isinf(value) and value > 0 else f"{value:.2f}"


def table_rows(result: Result, class_names: tuple[str, ...]) -> list[list[str]]:
    it = result.interpolation
    return [
        [f"{a:.3f}", class_names[cp], class_names[cl], fmt_psnr(p), f"{d:.4f}"]
        for a, cp, cl, p, d in zip(it.alphas.tolist(), result.pixel_classes.tolist(), result.latent_classes.tolist(),
                                   it.psnr.tolist(), it.latent_dist.tolist())
    ]


def label_value(proba: np.ndarray, class_names: tuple[str, ...]) -> dict[str, float]:
    """Class probabilities (K,) -> {name: p} for ``gr.Label``."""
    return {name: float(p) for name, p in zip(class_names, proba)}


def cards_markdown(directory: Path, predictor: Predictor, status: dict[str, str | None]) -> str:
    """One row per checkpoint: how it was trained (read from the file) and what it measures."""
    try:  # shorter, and no home directories in screenshots
        directory = directory.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    if not status:
        return (f"**No checkpoints found in `{directory}`.** Train them with "
                "`bash demo/train_checkpoints.sh` or start with `python -m demo --checkpoints DIR`.")
    rows = ["| checkpoint | trained as (preset) | training | model | test PSNR | class of code: test accuracy |",
            "| --- | --- | --- | --- | --- | --- |"]
    notes = ""
    for name, err in status.items():
        if err is not None:
            rows.append(f"| `{name}` | **unusable**: {err} | | | | |")
            continue
        m = predictor.loaded(name)
        ins = m.insight
        rows.append(f"| `{name}` | {preset_line(m.card)} | {training_line(m.card)} | {describe_model(m.card.hparams)} "
                    f"| {ins.test_psnr:.2f} dB | {100 * ins.accuracy:.1f} % |")
        notes = (f"Test PSNR and the accuracy of the class shown for each code are measured at start-up on "
                 f"the {ins.n_test:,} {ins.reference} test images (checkpoints do not store them); the class "
                 f"comes from a logistic regression fitted on the codes of {ins.n_train:,} training images. "
                 "“≈ preset”: the packaged preset closest to the checkpoint's hyperparameters.")
    return f"Checkpoints in `{directory}`:\n\n" + "\n".join(rows) + ("\n\n" + notes if notes else "")


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
        """All outputs for the digits present (None: that digit's panels are cleared)."""
        t0 = time.perf_counter()
        m = predictor.loaded(model_name)
        names, latent_map = m.insight.classifier.class_names, m.insight.map
        present = [k for k in ("A", "B") if images[k] is not None]
        panels = {k: (None, None, None) for k in ("A", "B")}
        strips, table, routes, marks = None, [], {}, {}
        if len(present) == 2:
            result = predictor.run(model_name, images["A"], images["B"], int(steps))
            seen, recon, proba = result.inputs, result.reconstructions, result.proba
            points = np.stack([result.latent_points[0], result.latent_points[-1]])
            it = result.interpolation
            strips = strips_image(np.stack([as_hwc(t) for t in it.pixel]), np.stack([as_hwc(t) for t in it.latent]))
            table = table_rows(result, names)
            routes = {"pixel_route": result.pixel_points, "latent_route": result.latent_points}
            done = f"{len(it.alphas)} steps"
        elif present:
            s = predictor.see(model_name, [images[k] for k in present])
            seen, recon, proba, points = s.inputs, s.reconstructions, s.proba, s.points
            missing = "B" if present == ["A"] else "A"
            done = f"digit {present[0]} only (draw {missing} for the interpolation)"
        else:
            return (None,) * 7 + (latent_map.background, [], f"`{model_name}`: draw two digits. {note}".strip())
        for i, k in enumerate(present):
            panels[k] = (zoom(as_hwc(seen[i]), ZOOM_SEEN), zoom(as_hwc(recon[i]), ZOOM_SEEN), label_value(proba[i], names))
            marks[k] = points[i]
        ms = 1000 * (time.perf_counter() - t0)
        timing = f"`{model_name}`: {done}, computed in {ms:.0f} ms on {predictor.device}. {note}".strip()
        (sa, ra, ca), (sb, rb, cb) = panels["A"], panels["B"]
        return sa, sb, ra, rb, ca, cb, strips, latent_map.draw(marks, **routes), table, timing

    @friendly
    def run(model_name, value_a, value_b, steps):
        """Both digits, strictly: an empty or unreadable one is an error message."""
        if not model_name:
            raise gr.Error(f"No usable checkpoint in {predictor.checkpoint_dir}; see the note at the top.")
        images = {}
        for label, value in (("A", value_a), ("B", value_b)):
            try:
                p = prepare(sketch_image(value))
            except RegaeError as exc:
                raise gr.Error(f"Digit {label}: {exc}", print_exception=False) from None
            if p.note:
                gr.Warning(f"Digit {label}: {p.note}")
            images[label] = p.image
        return outputs_for(model_name, images, steps)

    @friendly
    def live(model_name, value_a, value_b, steps):
        """After each stroke: whatever is drawn so far; problems go in the status line, not in toasts."""
        if not model_name:
            return (gr.skip(),) * len(outputs)
        images, notes = {}, []
        for label, value in (("A", value_a), ("B", value_b)):
            try:
                p = prepare(sketch_image(value))
                images[label] = p.image
                if p.note:
                    notes.append(f"Digit {label}: {p.note}.")
            except InputImageError as exc:
                images[label] = None
                if sketch_image(value) is not None and "empty" not in str(exc):
                    notes.append(f"Digit {label}: {exc}.")
        return outputs_for(model_name, images, steps, " ".join(notes))

    @friendly
    def random_pair():
        from regae.data import load_split

        test = load_split("test")
        i = int(rng.integers(len(test.labels)))
        others = np.flatnonzero(test.labels.numpy() != int(test.labels[i]))
        j = int(others[rng.integers(len(others))])
        note = f"MNIST test images #{i} (label {int(test.labels[i])}) and #{j} (label {int(test.labels[j])})."
        return for_canvas(test.images[i].numpy()), for_canvas(test.images[j].numpy()), note

    @friendly
    def upload(path):
        if path is None:
            raise gr.Error("No file received.")
        return for_canvas(read_upload(path))

    first_map = predictor.loaded(usable[0]).insight.map.background if usable else None
    with gr.Blocks(title="regae: draw two digits", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(cards_markdown(predictor.checkpoint_dir, predictor, status), elem_id="status")
        with gr.Row():
            model = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model (checkpoint)",
                                elem_id="model", interactive=True)
            steps = gr.Slider(MIN_STEPS, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="α steps (0 to 1)",
                              elem_id="steps")
        canvases, seen, recon, classes = [], [], [], []
        with gr.Row():
            for label in ("A", "B"):
                with gr.Column():
                    canvas = gr.Sketchpad(
                        label=f"Digit {label}", elem_id=f"canvas-{label.lower()}", type="numpy",
                        canvas_size=(CANVAS, CANVAS), fixed_canvas=True, layers=False, transforms=(),
                        brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=18),
                        format="png",
                    )
                    button = gr.UploadButton(f"Upload an image for {label}", file_types=["image"],
                                             elem_id=f"upload-{label.lower()}", size="sm")
                    button.upload(upload, button, canvas)
                    canvases.append(canvas)
                    with gr.Row():
                        # PNG, not Gradio's default WebP: the pixels shown are the pixels computed.
                        seen.append(gr.Image(label=f"{label}, 28x28", elem_id=f"seen-{label.lower()}",
                                             format="png", height=180))
                        recon.append(gr.Image(label=f"D(E({label}))", elem_id=f"recon-{label.lower()}",
                                              format="png", height=180))
                        classes.append(gr.Label(label=f"class of E({label})", elem_id=f"class-{label.lower()}",
                                                num_top_classes=3))
        with gr.Row():
            go = gr.Button("Run", variant="primary", elem_id="run")
            pick = gr.Button("Random MNIST test pair", elem_id="random")
        source = gr.Markdown("", elem_id="source")
        timing = gr.Markdown("", elem_id="timing")
        strips = gr.Image(label="A → B, top: D(E(pixel mix)), bottom: D(latent mix)", elem_id="strips",
                          format="png")
        with gr.Row():
            latent_map = gr.Image(first_map, label="the codes on a map (PCA of the test codes)", elem_id="map",
                                  format="png")
            table = gr.Dataframe(headers=["α", "class E(pixel mix)", "class latent mix", "PSNR dB", "‖h_α − h'_α‖₂"],
                                 datatype=["str"] * 5, interactive=False, elem_id="table")

        outputs = [seen[0], seen[1], recon[0], recon[1], classes[0], classes[1], strips, latent_map, table, timing]
        inputs = [model, canvases[0], canvases[1], steps]
        go.click(run, inputs, outputs, api_name="run", concurrency_id="model")
        # After a stroke ends (the editor's change event fires on pointer-up), debounced:
        # "always_last" runs at most one more update once the pending one has finished.
        gr.on([canvases[0].change, canvases[1].change, model.change, steps.release], live, inputs, outputs,
              trigger_mode="always_last", show_progress="minimal", concurrency_id="model",
              api_name="live", api_visibility="undocumented")
        pick.click(random_pair, None, [canvases[0], canvases[1], source], api_name="random_pair").success(
            run, inputs, outputs, api_visibility="private", concurrency_id="model")
        # The editor opens with no tool selected: pick the brush so a visitor can draw at once.
        demo.load(None, None, None, js="""() => { setTimeout(() => {
            for (const id of ['canvas-a', 'canvas-b']) {
                const b = document.querySelector(`#${id} button[aria-label="Brush"]`);
                if (b) b.click();
            } }, 500); }""")
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo
