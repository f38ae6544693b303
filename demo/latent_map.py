"""A 2-D map of a model's codes: PCA of the test codes, drawn once, with routes drawn per request.

The map is the plane of the two leading principal components of the test codes H (N, d):

    μ = mean_n H_n,   H − μ = U S Vᵀ (SVD),   p(h) = (h − μ) V[:, :2]    (d,) -> (2,)

p is linear, so the straight latent line h'_α = (1−α) h_A + α h_B stays a straight segment on
the map, while the codes of the pixel mixes h_α = E((1−α) A + α B) may wander off it.

Drawing the scatter of thousands of coloured points takes matplotlib ~0.5 s, far too slow per
request under load, so :class:`LatentMap` renders it once and keeps the affine map from PCA
coordinates to pixels; :meth:`LatentMap.draw` then only copies the image and draws the few
route points with PIL (about a millisecond). The image is kept with a 64-colour palette: its PNG
encodes 2.5x faster than RGB (9 vs 22 ms, measured) and is 3x smaller, and encoding that PNG is
the largest single cost of an answer. Pure numpy/PIL/matplotlib, no Gradio.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (600, 460)  # (width, height) of the rendered map in px
SHOWN = 2000  # test codes drawn as dots (a fixed-seed subset; the PCA uses all of them)
PIXEL_ROUTE = (214, 0, 214)  # magenta: E((1−α)A + αB), not a tab10 class colour
LATENT_ROUTE = (0, 0, 0)  # black: the straight line (1−α)E(A) + αE(B)
ENDPOINT = (255, 255, 255)
INKS = (PIXEL_ROUTE, LATENT_ROUTE, ENDPOINT)  # kept exactly at the end of the palette
COLOURS = 64  # palette size of the map image
UNLABELLED = (0.35, 0.45, 0.6)  # the dots' colour when the data has no labels
LEGEND_CLASSES = 10  # classes named in the legend at most


@dataclass(frozen=True)
class PCA2:
    """The plane of the two leading principal components: ``project(h) = (h − mean) @ basis``."""

    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, 2), orthonormal columns
    explained: np.ndarray  # (2,) fraction of the total variance along each axis

    @classmethod
    def fit(cls, codes: np.ndarray) -> PCA2:
        """PCA of ``codes`` (N, d), N >= 2, d >= 2; the sign of each axis is fixed (largest |loading| > 0)."""
        codes = np.asarray(codes, dtype=np.float64)
        if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < 2:
            raise ValueError(f"Expected codes of shape (N >= 2, d >= 2), got {codes.shape}.")
        mean = codes.mean(0)
        _, s, vt = np.linalg.svd(codes - mean, full_matrices=False)
        basis = vt[:2].T  # (d, 2)
        signs = np.sign(basis[np.abs(basis).argmax(0), [0, 1]])  # deterministic orientation
        var = s**2
        return cls(mean, basis * signs, var[:2] / var.sum())

    def project(self, h: np.ndarray) -> np.ndarray:
        """(..., d) -> (..., 2)."""
        return (np.asarray(h, dtype=np.float64) - self.mean) @ self.basis


@dataclass(frozen=True)
class LatentMap:
    """The rendered scatter of test codes and where PCA coordinates land on it (pixels)."""

    pca: PCA2
    background: Image.Image  # (W, H), palette mode "P", with INKS as its last colours
    origin: np.ndarray  # (2,) pixel (x, y) of PCA point (0, 0)
    axes: np.ndarray  # (2, 2): pixel offset per unit of PC1 (row 0) and PC2 (row 1)
    box: tuple[float, float, float, float]  # plot area in pixels: left, top, right, bottom

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """PCA coordinates (..., 2) -> image pixels (..., 2) as (x, y), y downwards."""
        return self.origin + np.asarray(points, dtype=np.float64) @ self.axes

    def draw(self, marks: dict[str, np.ndarray] | None = None, pixel_route: np.ndarray | None = None,
             latent_route: np.ndarray | None = None) -> Image.Image:
        """The map with routes (n, 2) and labelled points {"A": (2,), ...} (PCA coordinates) drawn on it.

        Points outside the plot area are drawn at its border, so a far-off code stays visible.
        """
        img = self.background.copy()
        pen = ImageDraw.Draw(img)
        ink = {c: COLOURS - len(INKS) + i for i, c in enumerate(INKS)}  # colour -> palette index
        left, top, right, bottom = self.box

        def px(p):
            x, y = self.to_pixels(p)
            return float(np.clip(x, left, right)), float(np.clip(y, top, bottom))

        for route, colour, width in ((latent_route, LATENT_ROUTE, 3), (pixel_route, PIXEL_ROUTE, 3)):
            if route is None or len(route) == 0:
                continue
            pts = [px(p) for p in route]
            if len(pts) > 1:
                pen.line(pts, fill=ink[colour], width=width, joint="curve")
            for x, y in pts:
                pen.ellipse((x - 4, y - 4, x + 4, y + 4), fill=ink[colour], outline=ink[ENDPOINT])
        font = _font(15)
        for label, point in (marks or {}).items():
            x, y = px(point)
            pen.rectangle((x - 10, y - 10, x + 10, y + 10), fill=ink[LATENT_ROUTE], outline=ink[ENDPOINT], width=2)
            pen.text((x, y), label, fill=ink[ENDPOINT], font=font, anchor="mm")
        return img


def render(codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | None, pca: PCA2 | None = None,
           shown: int = SHOWN, seed: int = 0, size: tuple[int, int] = SIZE) -> LatentMap:
    """Scatter (a seeded subset of) ``codes`` (N, d) on the PCA plane, coloured by ``labels`` (N,).

    ``class_names`` None (unlabelled data): one colour for all. The legend names at most
    LEGEND_CLASSES classes (tab10 has ten colours; beyond them colours repeat anyway).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display; a no-op if a backend was already chosen
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, safe from threads

    pca = pca if pca is not None else PCA2.fit(codes)
    xy = pca.project(codes)  # (N, 2)
    idx = np.random.default_rng(seed).permutation(len(xy))[: min(shown, len(xy))]
    lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    pad = 0.12 * (hi - lo)
    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    ax = fig.add_axes((0.1, 0.1, 0.66, 0.8))
    cmap = matplotlib.colormaps["tab10"]
    if class_names is None:
        ax.scatter(xy[idx, 0], xy[idx, 1], s=6, color=UNLABELLED, alpha=0.55, linewidths=0, label="test code")
    for k, name in enumerate(class_names or ()):
        sel = idx[labels[idx] == k]
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(k % 10), alpha=0.55, linewidths=0,
                   label=name if k < LEGEND_CLASSES else None)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_xlabel(f"PC 1 ({100 * pca.explained[0]:.0f} % of the variance)", fontsize=9)
    ax.set_ylabel(f"PC 2 ({100 * pca.explained[1]:.0f} %)", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.set_title(f"{len(idx):,} test codes {'by class' if class_names else '(no labels)'}; A → B routes", fontsize=10)
    handles = ax.get_legend_handles_labels()[0]
    from matplotlib.lines import Line2D

    rgb = lambda c: tuple(v / 255 for v in c)  # noqa: E731
    handles = [Line2D([], [], color=h.get_facecolor()[0], marker="o", lw=0, ms=5, label=h.get_label())
               for h in handles]  # legend dots bigger than the map's
    if class_names and len(class_names) > LEGEND_CLASSES:
        handles.append(Line2D([], [], lw=0, label=f"+ {len(class_names) - LEGEND_CLASSES} more classes"))
    handles += [Line2D([], [], color=rgb(PIXEL_ROUTE), marker="o", ms=5, lw=2, label="E(pixel mix)"),
                Line2D([], [], color=rgb(LATENT_ROUTE), marker="o", ms=5, lw=2, label="latent line")]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(0.77, 0.5), fontsize=8, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)  # savefig draws, so the transforms below are final
    rgb_image = Image.open(buf).convert("RGB")
    background = rgb_image.quantize(colors=COLOURS - len(INKS), method=Image.Quantize.MEDIANCUT)
    palette = background.getpalette()[: 3 * (COLOURS - len(INKS))]
    palette += [0] * (3 * (COLOURS - len(INKS)) - len(palette))  # fewer colours found: pad, keep INKS' indices
    background.putpalette(palette + [v for c in INKS for v in c])
    h = rgb_image.height
    to_px = lambda p: np.array([ax.transData.transform(p)[0], h - ax.transData.transform(p)[1]])  # noqa: E731
    origin = to_px((0.0, 0.0))
    axes = np.stack([to_px((1.0, 0.0)) - origin, to_px((0.0, 1.0)) - origin])
    (x0, y0), (x1, y1) = ax.get_window_extent().get_points()
    return LatentMap(pca, background, origin, axes, (float(x0), float(h - y1), float(x1), float(h - y0)))


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans Bold from matplotlib's own data (always installed with it), else PIL's default."""
    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans-Bold.ttf"), size)
    except OSError:
        return ImageFont.load_default(size)
