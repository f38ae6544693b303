"""Several users at once (``nox -s browser``): 8 gradio_client users x 5 runs, all answered, each right.

The small, CI-sized version of ``benchmarks/bench_demo_load.py`` (32 x 20, by hand). Every run
sends a different pair of MNIST test digits; every answer must be the answer for its own input
(no mix-up between users' requests). No latency is asserted, only one bounded deadline.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from demo.testing.load import Case, make_cases, mismatch, run_users  # noqa: E402
from tests.support.demo import launch  # noqa: E402

USERS, RUNS = 8, 5
DEADLINE_S = 300  # measured ~10-20 s on a loaded 2-core machine; the bound only stops a hang


def as_served(case: Case, folder) -> tuple:
    """The /run outputs a client would receive if the server answered ``case`` (only what is checked)."""
    e = case.expected
    paths = []
    for name, image in (("a", e.seen_a), ("b", e.seen_b)):
        paths.append(folder / f"seen-{case.user}-{case.run}-{name}.png")
        Image.fromarray(image).save(paths[-1])
    return (*paths, None, None, {"label": e.class_a}, {"label": e.class_b}, None, None,
            {"data": [list(r) for r in e.table]}, "")


def test_an_answer_for_another_input_is_caught(slim, tmp_path):
    """The cross-talk check itself: its own answer passes, a neighbour's answer fails."""
    (mine, other), = make_cases(slim, "sparse", 1, 2, tmp_path / "inputs", first=2000)
    assert mismatch(mine, as_served(mine, tmp_path)) is None
    assert "seen A differs" in mismatch(mine, as_served(other, tmp_path))
    out = list(as_served(mine, tmp_path))
    out[8]["data"][2][3] = f"{float(out[8]['data'][2][3]) + 0.5:.2f}"  # one PSNR off by 0.5 dB
    assert "table row" in mismatch(mine, tuple(out))


@pytest.mark.browser  # in the browser session: it serves the app and runs many clients
def test_many_users_at_once_all_get_their_own_answers(slim, tmp_path):
    cases = make_cases(slim, "sparse", USERS, RUNS, tmp_path / "inputs", first=1000)
    demo = launch(slim)
    try:
        report = run_users(demo.local_url, cases, "sparse", DEADLINE_S, tmp_path / "downloads")
    finally:
        demo.close()
    print(report.summary())
    assert report.errors == [] and report.lost == 0
    assert report.wrong == []
    assert report.answered == USERS * RUNS
