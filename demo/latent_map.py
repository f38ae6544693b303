"""A 2-D map of a model's codes: a linear projection fitted once on training codes, drawn once, routes per request.

The map is a plane fitted on the codes H (N, d) of the training images the classifier is fitted
on (:mod:`demo.insight`), an affine map that can place any code, seen or new:

    p(h) = (h − μ) W      (d,) -> (2,),   W (d, 2)

* labelled data: **Fisher's linear discriminant** (scikit-learn's ``LinearDiscriminantAnalysis``,
  two components): the directions along which the class means lie furthest apart relative to the
  spread within each class, so classes that the codes keep apart stay apart on the map. With two
  classes there is one discriminant; the second axis is then the leading principal component of
  what is left. Axes "LD 1", "LD 2".
* unlabelled data (or an LDA that cannot be fitted): the two leading **principal components**,
  μ = mean H, H − μ = U S Vᵀ, W = V[:, :2]. Axes "PC 1", "PC 2".

p is linear, so the straight latent line h'_α = (1−α) h_A + α h_B stays a straight segment on
the map, while the codes of the pixel mixes h_α = E((1−α) A + α B) may wander off it.

How honest the map is, measured (:func:`knn_accuracy`): a 5-nearest-neighbour classifier fitted on
the training codes' 2-D points classifies the test codes' 2-D points; its accuracy is shown on
the map and in the checkpoint's card (chance is about 1 / the number of classes).

Drawing the scatter of thousands of coloured points takes matplotlib ~0.5 s, far too slow per
request under load, so :class:`LatentMap` renders it once and keeps the affine map from plane
coordinates to pixels; :meth:`LatentMap.draw` then only copies the image and draws the few
route points with PIL (about a millisecond). The image is kept with a 64-colour palette: its PNG
encodes 2.5x faster than RGB (9 vs 22 ms, measured) and is 3x smaller, and encoding that PNG is
the largest single cost of an answer. Pure numpy/PIL/matplotlib/scikit-learn, no Gradio.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIZE = (600, 460)  # (width, height) of the rendered map in px
SHOWN = 2000  # test codes drawn as dots (a fixed-seed subset; the separation figure uses all of them)
NEIGHBOURS = 5  # k of the k-NN that measures how well the classes separate on the map
PIXEL_ROUTE = (214, 0, 214)  # magenta: E((1−α)A + αB), not a tab10 class colour
LATENT_ROUTE = (0, 0, 0)  # black: the straight line (1−α)E(A) + αE(B)
ENDPOINT = (255, 255, 255)
INKS = (PIXEL_ROUTE, LATENT_ROUTE, ENDPOINT)  # kept exactly at the end of the palette
COLOURS = 64  # palette size of the map image
UNLABELLED = (0.35, 0.45, 0.6)  # the dots' colour when the data has no labels
LEGEND_CLASSES = 10  # classes named in the legend at most
METHODS = {"LD": "Fisher's linear discriminant", "PC": "principal components"}
PLACED_BY = {"LD": "Fisher's linear discriminant", "PC": "the principal components"}  # "placed by ..." on the map


@dataclass(frozen=True)
class Projection:
    """A linear map of codes onto a plane: ``project(h) = (h − mean) @ basis``."""

    kind: str  # "LD" (Fisher's linear discriminant) or "PC" (principal components)
    mean: np.ndarray  # (d,)
    basis: np.ndarray  # (d, 2)
    explained: np.ndarray  # (2,) share per axis: of the between-class variance (LD), of the variance (PC)
    axes: tuple[str, str]  # the axes' names, e.g. ("LD 1", "LD 2")
    note: str = ""  # why it is not what was asked for (an LDA that could not be fitted), or ""

    @property
    def method(self) -> str:
        """``Fisher's linear discriminant`` or ``principal components``."""
        return METHODS[self.kind]

    def project(self, h: np.ndarray) -> np.ndarray:
        """(..., d) -> (..., 2)."""
        return (np.asarray(h, dtype=np.float64) - self.mean) @ self.basis

    def axis_labels(self) -> tuple[str, str]:
        """The axes' labels on the map, e.g. ``LD 1 (61 % of the between-class variance)``."""
        of = "between-class variance" if self.kind == "LD" else "variance"
        first = f"{self.axes[0]} ({100 * self.explained[0]:.0f} % of the {of})"
        if self.axes[1].startswith(self.kind):
            return first, f"{self.axes[1]} ({100 * self.explained[1]:.0f} %)"
        return first, f"{self.axes[1]} ({100 * self.explained[1]:.0f} % of the variance left)"


def _oriented(basis: np.ndarray) -> np.ndarray:
    """``basis`` (d, 2) with each column's sign fixed (its largest |loading| positive): one map per fit."""
    signs = np.sign(basis[np.abs(basis).argmax(0), np.arange(basis.shape[1])])
    return basis * np.where(signs == 0, 1.0, signs)


def _as_codes(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or codes.shape[0] < 2 or codes.shape[1] < 2:
        raise ValueError(f"Expected codes of shape (N >= 2, d >= 2), got {codes.shape}.")
    return codes


def _leading_directions(centred: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` leading principal directions (d, n) of centred rows and their shares of the variance (n,)."""
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2
    total = var.sum()
    return vt[:n].T, (var[:n] / total if total > 0 else np.zeros(n))


def fit_pca(codes: np.ndarray) -> Projection:
    """The plane of the two leading principal components of ``codes`` (N >= 2, d >= 2)."""
    codes = _as_codes(codes)
    mean = codes.mean(0)
    basis, explained = _leading_directions(codes - mean, 2)
    return Projection("PC", mean, _oriented(basis), explained, ("PC 1", "PC 2"))


def fit_lda(codes: np.ndarray, labels: np.ndarray) -> Projection:
    """Fisher's linear discriminant of ``codes`` (N, d) with ``labels`` (N,) of at least two classes.

    Three classes or more: the two leading discriminants (``LinearDiscriminantAnalysis`` with the
    SVD solver, which needs no invertible covariance: ``transform(h) = (h − xbar_) @ scalings_``).
    Two classes: LD 1 and, as the second axis, the leading principal component of the codes with
    their LD 1 component removed. ``ValueError`` if no discriminant can be fitted.
    """
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    codes = _as_codes(codes)
    labels = np.asarray(labels)
    n_classes = len(np.unique(labels))
    if n_classes < 2 or len(labels) != len(codes):
        raise ValueError(f"Expected labels (N,) of at least 2 classes for {len(codes)} codes, got "
                         f"{len(labels)} labels of {n_classes} class(es).")
    n_ld = min(2, n_classes - 1)
    with warnings.catch_warnings():  # "Variables are collinear": codes with dead (constant) units
        warnings.simplefilter("ignore", UserWarning)
        lda = LinearDiscriminantAnalysis(n_components=n_ld, solver="svd").fit(codes, labels)
    scalings = np.asarray(lda.scalings_, dtype=np.float64)
    if scalings.ndim != 2 or scalings.shape[1] < n_ld or not np.isfinite(scalings).all():
        raise ValueError(f"no {n_ld} discriminant direction(s) in these codes")
    mean, basis = np.asarray(lda.xbar_, dtype=np.float64), scalings[:, :n_ld]
    explained = np.asarray(lda.explained_variance_ratio_, dtype=np.float64)[:n_ld]
    axes = ("LD 1", "LD 2")
    if n_ld == 1:  # two classes: LD 1, then the leading direction of what it leaves
        u = basis[:, 0] / np.linalg.norm(basis[:, 0])
        centred = codes - mean
        rest = centred - np.outer(centred @ u, u)
        v, share = _leading_directions(rest, 1)
        basis, explained, axes = np.column_stack([basis[:, 0], v[:, 0]]), np.array([explained[0], share[0]]), \
            ("LD 1", "PC 1 of the rest")
    return Projection("LD", mean, _oriented(basis), explained, axes)


def fit_projection(codes: np.ndarray, labels: np.ndarray | None = None) -> Projection:
    """Fisher's linear discriminant when ``labels`` (of two classes or more) are given, else PCA.

    An LDA that cannot be fitted (e.g. every code of a class the same as another's) falls back to
    PCA, with the reason in ``note``.
    """
    if labels is None or len(np.unique(labels)) < 2:
        return fit_pca(codes)
    try:
        return fit_lda(codes, labels)
    except (ValueError, np.linalg.LinAlgError) as exc:
        pca = fit_pca(codes)
        return Projection(pca.kind, pca.mean, pca.basis, pca.explained, pca.axes,
                          f"no linear discriminant could be fitted ({exc}), so principal components")


def knn_accuracy(train_points: np.ndarray, train_labels: np.ndarray, test_points: np.ndarray,
                 test_labels: np.ndarray, k: int = NEIGHBOURS) -> float:
    """Accuracy of a ``k``-nearest-neighbour classifier fitted on the 2-D training points, on the test points.

    How well the classes separate on the map: 1 when each test code lies among training codes of
    its own class, about the largest class's share when the classes lie on top of each other.
    """
    from sklearn.neighbors import KNeighborsClassifier

    train_points, test_points = np.asarray(train_points, np.float64), np.asarray(test_points, np.float64)
    if len(train_points) == 0 or len(test_points) == 0:
        raise ValueError("Expected training and test points, got none.")
    knn = KNeighborsClassifier(n_neighbors=min(k, len(train_points))).fit(train_points, train_labels)
    return float((knn.predict(test_points) == np.asarray(test_labels)).mean())


@dataclass(frozen=True)
class LatentMap:
    """The rendered scatter of test codes and where plane coordinates land on it (pixels)."""

    projection: Projection
    background: Image.Image  # (W, H), palette mode "P", with INKS as its last colours
    origin: np.ndarray  # (2,) pixel (x, y) of plane point (0, 0)
    axes: np.ndarray  # (2, 2): pixel offset per unit of axis 1 (row 0) and axis 2 (row 1)
    box: tuple[float, float, float, float]  # plot area in pixels: left, top, right, bottom

    def to_pixels(self, points: np.ndarray) -> np.ndarray:
        """Plane coordinates (..., 2) -> image pixels (..., 2) as (x, y), y downwards."""
        return self.origin + np.asarray(points, dtype=np.float64) @ self.axes

    def draw(self, marks: dict[str, np.ndarray] | None = None, pixel_route: np.ndarray | None = None,
             latent_route: np.ndarray | None = None) -> Image.Image:
        """The map with routes (n, 2) and labelled points {"A": (2,), ...} (plane coordinates) drawn on it.

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

    def png(self) -> bytes:
        """The background as a palette PNG (what :meth:`from_png` reads back, pixel for pixel)."""
        buf = io.BytesIO()
        self.background.save(buf, format="PNG")
        return buf.getvalue()

    @classmethod
    def from_png(cls, projection: Projection, png: bytes, origin: np.ndarray, axes: np.ndarray,
                 box: tuple[float, float, float, float]) -> LatentMap:
        """A map rendered before (:meth:`png` and its geometry); ``ValueError`` if the image is not one."""
        img = Image.open(io.BytesIO(png))
        if img.format != "PNG" or img.mode != "P" or img.width * img.height > 4 * SIZE[0] * SIZE[1]:
            raise ValueError(f"not a map image: {img.format} {img.mode} {img.size}")
        img.load()
        palette = img.getpalette() or []
        if palette[3 * (COLOURS - len(INKS)) : 3 * COLOURS] != [v for c in INKS for v in c]:
            raise ValueError("the map image's palette lacks the route colours")
        origin, axes = np.asarray(origin, np.float64), np.asarray(axes, np.float64)
        if origin.shape != (2,) or axes.shape != (2, 2) or len(box) != 4:
            raise ValueError("the map's geometry has the wrong shape")
        return cls(projection, img, origin, axes, tuple(float(v) for v in box))


def render(codes: np.ndarray, labels: np.ndarray, class_names: tuple[str, ...] | None,
           projection: Projection | None = None, separation: float | None = None, shown: int = SHOWN,
           seed: int = 0, size: tuple[int, int] = SIZE) -> LatentMap:
    """Scatter (a seeded subset of) ``codes`` (N, d) on the plane of ``projection``, coloured by ``labels`` (N,).

    ``projection`` None: the PCA of ``codes`` themselves. ``class_names`` None (unlabelled data):
    one colour for all. ``separation`` (the map's k-NN accuracy, :func:`knn_accuracy`) goes in
    the title. The legend names at most LEGEND_CLASSES classes (tab10 has ten colours; beyond
    them colours repeat anyway).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display; a no-op if a backend was already chosen
    from matplotlib.figure import Figure  # a bare Figure: no pyplot state, safe from threads

    projection = projection if projection is not None else fit_pca(codes)
    xy = projection.project(codes)  # (N, 2)
    idx = np.random.default_rng(seed).permutation(len(xy))[: min(shown, len(xy))]
    lo, hi = np.percentile(xy, 0.5, axis=0), np.percentile(xy, 99.5, axis=0)
    pad = np.where(hi > lo, 0.12 * (hi - lo), 1.0)
    dpi = 100
    fig = Figure(figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    ax = fig.add_axes((0.1, 0.1, 0.66, 0.77))  # room above for a two-line title
    cmap = matplotlib.colormaps["tab10"]
    if class_names is None:
        ax.scatter(xy[idx, 0], xy[idx, 1], s=6, color=UNLABELLED, alpha=0.55, linewidths=0, label="test code")
    for k, name in enumerate(class_names or ()):
        sel = idx[labels[idx] == k]
        ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=cmap(k % 10), alpha=0.55, linewidths=0,
                   label=name if k < LEGEND_CLASSES else None)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    xlabel, ylabel = projection.axis_labels()
    ax.set_xlabel(xlabel, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.tick_params(labelsize=7)
    what = f"{len(idx):,} test codes {'by class' if class_names else '(no labels)'}"
    if separation is not None:
        what += f"; {NEIGHBOURS}-NN on this map: {100 * separation:.1f} %"
    ax.set_title(f"{what}\nplaced by {PLACED_BY[projection.kind]} of the training codes", fontsize=9)
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
    return LatentMap(projection, background, origin, axes, (float(x0), float(h - y1), float(x1), float(h - y0)))


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """DejaVu Sans Bold from matplotlib's own data (always installed with it), else PIL's default."""
    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans-Bold.ttf"), size)
    except OSError:
        return ImageFont.load_default(size)
