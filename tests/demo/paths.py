"""Where the demo tests' checkpoints are.

``SLIM``: tests/demo/checkpoints, slim U-Nets (widths 8/16/32, 1,000–1,200 steps; test PSNR ~20 dB,
made by ``bash demo/train_checkpoints.sh``), analysed on all of MNIST in seconds: what most tests
start on. ``DEFAULT``: demo/checkpoints, what ``python -m demo`` serves, the report's full-budget
models (copies of docs/report-full, ``bash demo/update_checkpoints.sh``); analysing them takes about
a minute, so only the browser session and the slow tests load them.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.demo import SHIPPED

SLIM = Path(__file__).resolve().parent / "checkpoints"
DEFAULT = SHIPPED
REPORT = Path(__file__).resolve().parents[2] / "docs" / "report-full"
