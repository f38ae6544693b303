"""Published tables, reproduced: one module per paper, each ``run(ctx) -> list[Section]``.

``regae reproduce NAME`` (:mod:`regae.cli.reproduce`) runs one through :mod:`regae.study.reproductions.run`:
its models train with the study's runner (the one Trainer builder, the model cache, so a killed
run resumes model by model) and its report is written by the one report writer. Each module
states the paper's numbers beside ours, row by row, with the protocol and where ours differs.
"""

from __future__ import annotations

#: name -> (module, one line); modules are imported only when their reproduction runs
REPRODUCTIONS: dict[str, tuple[str, str]] = {
    "rifai2011": ("regae.study.reproductions.rifai2011",
                  "Rifai et al. 2011, Contractive Auto-Encoders, Table 1 (MNIST): pre-trained 784-1000-10 test error, "
                  "Jacobian norm, saturation"),
    "hinton2006": ("regae.study.reproductions.hinton2006",
                   "Hinton & Salakhutdinov 2006, Fig. 2B (MNIST): squared error of 30-d codes, deep AE vs logistic "
                   "PCA vs PCA"),
    "vincent2010": ("regae.study.reproductions.vincent2010",
                    "Vincent et al. 2010, Stacked Denoising Autoencoders, Table 3 (MNIST): 784-1000-1000-1000-10 test "
                    "error after denoising / plain / no pre-training"),
}
