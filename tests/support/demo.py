"""Shared pieces of the demo tests."""

from __future__ import annotations

from pathlib import Path

from demo.insight import Reference, mnist_reference

SHIPPED = Path(__file__).resolve().parents[2] / "demo" / "checkpoints"


def small_reference(model=None, *, n_train: int = 2000, n_test: int = 1000) -> Reference:
    """The first images of MNIST's splits: enough for a working classifier and map, in a second.

    Takes (and ignores) a model, so ``Predictor(reference=small_reference)`` uses it for every checkpoint.
    """
    full = mnist_reference()
    return full._replace(train_images=full.train_images[:n_train], train_labels=full.train_labels[:n_train],
                         test_images=full.test_images[:n_test], test_labels=full.test_labels[:n_test])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(predictor, css: str | None = None):
    """The demo app over ``predictor``'s checkpoints, served on a free loopback port; ``close()`` it."""
    import numpy as np

    from demo.app import build_demo

    demo = build_demo(predictor.checkpoint_dir, rng=np.random.default_rng(0), predictor=predictor)
    demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                **({"css": css} if css else {}))
    return demo
