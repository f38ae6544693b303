"""The Gradio app: draw (or upload, or draw from MNIST) two digits, see what the model makes of them.

Only wiring lives here: the canvas -> 28x28 transform is :mod:`demo.draw`, the models and the
interpolation are :mod:`demo.predictor`. ``build_demo`` returns the Blocks; ``python -m demo``
launches it. Every handler turns a failure into a one-line ``gr.Error`` toast (bad input,
missing or corrupt checkpoint, an unexpected bug) and the server keeps running.
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

from demo.draw import CANVAS, for_canvas, prepare, read_upload, sketch_image  # noqa: E402
from demo.predictor import DEFAULT_STEPS, MAX_STEPS, MIN_STEPS, Predictor, Result  # noqa: E402
from regae.errors import RegaeError  # noqa: E402

DEFAULT_CHECKPOINTS = Path(__file__).with_name("checkpoints")
ZOOM_SEEN = 6  # 28 -> 168 px for the "what the model sees" panels
ZOOM_STRIP = 4  # 28 -> 112 px per interpolation tile
GAP = 4  # px between tiles
MAX_FILE_SIZE = "10mb"  # Gradio refuses larger uploads before any handler runs

log = logging.getLogger("demo")

INTRO = """\
## regae: pixel mix vs latent mix
Draw a digit on each canvas (or upload images, or take a random MNIST test pair) and press **Run**.
Each drawing is cropped, scaled to 20 px and centred on its centre of mass in a 28x28 frame,
the way MNIST was made; that 28x28 is what the autoencoder sees. With α the weight of **B**,
the strips show **D(E((1−α)A + αB))** (encode the mixed pixels) above **D((1−α)E(A) + αE(B))**
(mix the codes), with PSNR between them and ‖h_α − h'_α‖₂ per α (∞ dB and 0 at the ends,
where both are the same image).
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
    """(H, W) float in [0, 1] -> (H*f, W*f) uint8, nearest neighbour (pixels stay visible)."""
    v = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    return v.repeat(factor, 0).repeat(factor, 1)


def strips_image(pixel: np.ndarray, latent: np.ndarray, zoom_factor: int = ZOOM_STRIP, gap: int = GAP) -> np.ndarray:
    """Two rows of n tiles, (n, 28, 28) each -> one grey image (2T + 3g, nT + (n+1)g) uint8."""
    n, t = len(pixel), 28 * zoom_factor
    out = np.full((2 * t + 3 * gap, n * t + (n + 1) * gap), 96, dtype=np.uint8)  # grey gutters
    for row, images in enumerate((pixel, latent)):
        top = gap + row * (t + gap)
        for i, im in enumerate(images):
            left = gap + i * (t + gap)
            out[top : top + t, left : left + t] = zoom(im, zoom_factor)
    return out


def fmt_psnr(value: float) -> str:
    return "∞" if math.isinf(value) and value > 0 else f"{value:.2f}"


def table_rows(result: Result) -> list[list[str]]:
    it = result.interpolation
    return [
        [f"{a:.3f}", fmt_psnr(p), f"{d:.4f}"]
        for a, p, d in zip(it.alphas.tolist(), it.psnr.tolist(), it.latent_dist.tolist())
    ]


def status_markdown(directory: Path, status: dict[str, str | None]) -> str:
    """One line per checkpoint (ready, or why not); a hint when the folder has none."""
    try:  # shorter, and no home directories in screenshots
        directory = directory.resolve().relative_to(Path.cwd())
    except ValueError:
        pass
    if not status:
        return (f"**No checkpoints found in `{directory}`.** Train them with "
                "`bash demo/train_checkpoints.sh` or start with `python -m demo --checkpoints DIR`.")
    lines = [f"`{n}`: " + ("ready" if err is None else f"**unusable**: {err}") for n, err in status.items()]
    return f"Checkpoints in `{directory}`: " + "; ".join(lines)


def build_demo(
    checkpoint_dir: str | Path = DEFAULT_CHECKPOINTS,
    *,
    device: str = "cpu",
    rng: np.random.Generator | None = None,
) -> gr.Blocks:
    """The Blocks app over the checkpoints in ``checkpoint_dir`` (loaded once, on first use)."""
    predictor = Predictor(checkpoint_dir, device=device)
    status = predictor.status()  # loads the usable models now, so the first Run is fast
    usable = [n for n, err in status.items() if err is None]
    rng = rng if rng is not None else np.random.default_rng()

    @friendly
    def run(model_name, value_a, value_b, steps):
        if not model_name:
            raise gr.Error(f"No usable checkpoint in {predictor.checkpoint_dir}; see the note at the top.")
        t0 = time.perf_counter()
        prepared = []
        for label, value in (("A", value_a), ("B", value_b)):
            try:
                p = prepare(sketch_image(value))
            except RegaeError as exc:
                raise gr.Error(f"Digit {label}: {exc}", print_exception=False) from None
            if p.note:
                gr.Warning(f"Digit {label}: {p.note}")
            prepared.append(p.image)
        result = predictor.run(model_name, prepared[0], prepared[1], int(steps))
        seen = [zoom(im[0].numpy(), ZOOM_SEEN) for im in result.inputs]
        recon = [zoom(im[0].numpy(), ZOOM_SEEN) for im in result.reconstructions]
        it = result.interpolation
        strips = strips_image(it.pixel[:, 0].numpy(), it.latent[:, 0].numpy())
        ms = 1000 * (time.perf_counter() - t0)
        timing = f"`{model_name}`: {len(it.alphas)} steps, computed in {ms:.0f} ms on {predictor.device}."
        return seen[0], seen[1], recon[0], recon[1], strips, table_rows(result), timing

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

    with gr.Blocks(title="regae: draw two digits", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(status_markdown(predictor.checkpoint_dir, status), elem_id="status")
        with gr.Row():
            model = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model (checkpoint)",
                                elem_id="model", interactive=True)
            steps = gr.Slider(MIN_STEPS, MAX_STEPS, value=DEFAULT_STEPS, step=1, label="α steps (0 to 1)",
                              elem_id="steps")
        canvases = []
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
            go = gr.Button("Run", variant="primary", elem_id="run")
            pick = gr.Button("Random MNIST test pair", elem_id="random")
        source = gr.Markdown("", elem_id="source")
        with gr.Row():
            # PNG, not Gradio's default WebP: the pixels shown are the pixels computed.
            seen_a = gr.Image(label="A as the model sees it (28x28)", elem_id="seen-a", format="png")
            seen_b = gr.Image(label="B as the model sees it (28x28)", elem_id="seen-b", format="png")
            recon_a = gr.Image(label="reconstruction D(E(A))", elem_id="recon-a", format="png")
            recon_b = gr.Image(label="reconstruction D(E(B))", elem_id="recon-b", format="png")
        strips = gr.Image(label="A → B, top: D(E(pixel mix)), bottom: D(latent mix)", elem_id="strips",
                          format="png")
        with gr.Row():
            table = gr.Dataframe(headers=["α (weight of B)", "PSNR(top, bottom) dB", "‖h_α − h'_α‖₂"],
                                 datatype=["str", "str", "str"], interactive=False, elem_id="table")
            timing = gr.Markdown("", elem_id="timing")

        outputs = [seen_a, seen_b, recon_a, recon_b, strips, table, timing]
        inputs = [model, canvases[0], canvases[1], steps]
        go.click(run, inputs, outputs, api_name="run")
        pick.click(random_pair, None, [canvases[0], canvases[1], source], api_name="random_pair").success(
            run, inputs, outputs, api_name=False)
        # The editor opens with no tool selected: pick the brush so a visitor can draw at once.
        demo.load(None, None, None, js="""() => { setTimeout(() => {
            for (const id of ['canvas-a', 'canvas-b']) {
                const b = document.querySelector(`#${id} button[aria-label="Brush"]`);
                if (b) b.click();
            } }, 500); }""")
    return demo
