"""Many gradio_client users at once against a running demo: latency, errors, lost answers, cross-talk.

Used by ``benchmarks/bench_demo_load.py`` (32 users x 20 runs against ``python -m demo``) and by
the small version in ``tests/demo/test_load.py`` (8 x 5, in the browser session).

Each user is one ``gradio_client.Client`` (its own session) in its own thread. All users
start together, and by default each sends its runs back to back: a new drawing pair the moment
the last answer arrived, which is harsher than a class of students who draw between runs
(``think_s`` > 0 pauses a user for think_s x U(0.5, 1.5) seconds after each answer). Every run
sends a different pair of MNIST test digits drawn on the canvas, and every answer is checked
against the answer for that input alone (computed in this process with the same predictor
code): the digits as the model sees them (exact pixels), the predicted classes of A and B, and
the table (classes exact, PSNR and distances to float noise). A mix-up between users' requests
would fail these checks. Everything is bounded by one deadline: a run not answered by then is
counted as lost, never waited for.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from demo.draw import for_canvas, prepare
from demo.predictor import DEFAULT_STEPS, Predictor
from demo.views import SEEN_PX, as_hwc, table_rows, zoom, zoom_for


class Expected(NamedTuple):
    seen_a: np.ndarray  # (168, 168) uint8: A as the model sees it, zoomed as the app shows it
    seen_b: np.ndarray
    class_a: str
    class_b: str
    table: list[list[str]]  # the app's table rows for this pair


class Case(NamedTuple):
    user: int
    run: int
    a_png: Path  # the canvas as the browser would send it (black ink on white, 280x280)
    b_png: Path
    expected: Expected


@dataclass
class Report:
    requests: int  # users x runs
    latencies: list[float] = field(default_factory=list)  # seconds, per answered run
    errors: list[str] = field(default_factory=list)  # runs answered with an error
    wrong: list[str] = field(default_factory=list)  # answers that are not the answer for their input
    lost: int = 0  # runs sent or due but not answered before the deadline
    wall: float = 0.0  # seconds from the common start to the last answer

    @property
    def answered(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q)) if self.latencies else float("nan")

    def summary(self) -> str:
        lat = (f"p50 {self.percentile(50):.2f} s, p95 {self.percentile(95):.2f} s, max {max(self.latencies):.2f} s"
               if self.latencies else "no answers")
        rate = self.answered / self.wall if self.wall else float("nan")
        return (f"{self.requests} runs: {self.answered} answered ({len(self.wrong)} wrong), "
                f"{len(self.errors)} errors, {self.lost} lost; latency {lat}; {rate:.1f} runs/s over {self.wall:.1f} s")


def make_cases(predictor: Predictor, model: str, users: int, runs: int, folder: Path,
               steps: int = DEFAULT_STEPS, first: int = 0) -> list[list[Case]]:
    """users x runs distinct input pairs (MNIST test digits first+2k, first+2k+1) and their answers."""
    from regae.data import load_split

    test = load_split("test")
    if first + 2 * users * runs > len(test.labels):
        raise ValueError(f"Expected users x runs <= {(len(test.labels) - first) // 2}, got {users} x {runs}.")
    folder.mkdir(parents=True, exist_ok=True)
    names = predictor.loaded(model).insight.classifier.class_names
    cases = []
    for u in range(users):
        row = []
        for r in range(runs):
            k = first + 2 * (u * runs + r)
            pngs, prepared = [], []
            for j in (k, k + 1):
                canvas = for_canvas(test.images[j].numpy())  # (280, 280, 3) black on white
                path = folder / f"digit-{j:05d}.png"
                Image.fromarray(canvas).save(path)
                pngs.append(path)
                prepared.append(prepare(np.asarray(Image.open(path).convert("RGBA"))).image)
            result = predictor.run(model, prepared[0], prepared[1], steps)
            seen = [zoom(as_hwc(t), zoom_for(t.shape, SEEN_PX)) for t in result.inputs]
            classes = [names[int(p.argmax())] for p in result.proba]
            expected = Expected(seen[0], seen[1], classes[0], classes[1], table_rows(result, names))
            row.append(Case(u, r, pngs[0], pngs[1], expected))
        cases.append(row)
    return cases


def mismatch(case: Case, out: tuple) -> str | None:
    """Why ``out`` (the /run outputs) is not the answer for ``case``'s input, or None if it is."""
    e = case.expected
    where = f"user {case.user} run {case.run}"
    for i, (name, want) in enumerate((("seen A", e.seen_a), ("seen B", e.seen_b))):
        got = np.asarray(Image.open(out[i]).convert("L"))
        if got.shape != want.shape or not np.array_equal(got, want):
            return f"{where}: {name} differs from the input's own"
    for i, (name, want) in enumerate((("class A", e.class_a), ("class B", e.class_b))):
        if out[4 + i].get("label") != want:
            return f"{where}: {name} is {out[4 + i].get('label')!r}, expected {want!r}"
    rows = out[8]["data"]
    if len(rows) != len(e.table):
        return f"{where}: table has {len(rows)} rows, expected {len(e.table)}"
    for got, want in zip(rows, e.table):
        if got[:3] != want[:3]:
            return f"{where}: table row {got} differs from {want}"
        for g, w, tol in ((got[3], want[3], 0.02), (got[4], want[4], 2e-4)):
            if g != w and not ("∞" not in (g, w) and abs(float(g) - float(w)) <= tol):
                return f"{where}: table row {got} differs from {want}"
    return None


def run_users(url: str, cases: list[list[Case]], model: str, deadline_s: float, download_dir: Path,
              steps: int = DEFAULT_STEPS, think_s: float = 0.0) -> Report:
    """Send every user's cases at once, one thread and one client per user; stop at ``deadline_s``.

    gradio_client downloads each file into a new ``<tempfile.gettempdir()>/<40 hex>`` folder and
    moves it out, leaving the folder behind, empty (six per run): meanwhile the system's temp
    folder is a folder under ``download_dir``, removed at the end.
    """
    Path(download_dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".client-tmp-", dir=download_dir))
    saved = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        return _run_users(url, cases, model, deadline_s, download_dir, steps, think_s)
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(scratch, ignore_errors=True)


def _run_users(url: str, cases: list[list[Case]], model: str, deadline_s: float, download_dir: Path,
               steps: int, think_s: float) -> Report:
    from gradio_client import Client, handle_file

    report = Report(sum(len(row) for row in cases))
    # gradio_client makes a new httpx client, and so a new SSL context with the CA bundle loaded,
    # for every upload and download: measured 0.27 s of CPU per run in the client, more than the
    # server spends, on the cores the server needs. One shared context (no TLS is used on the
    # loopback's http:// anyway) brings that to 0.02 s, so the test measures the server.
    tls = ssl.create_default_context()
    lock = threading.Lock()
    start = threading.Barrier(len(cases) + 1)
    t_start = time.perf_counter()
    deadline = t_start + deadline_s  # connecting counts too
    last = [t_start]

    def composite(path: Path) -> dict:
        return {"background": None, "layers": [], "composite": handle_file(str(path))}

    def user(row: list[Case]) -> None:
        pause = np.random.default_rng(row[0].user)  # each user thinks for its own, reproducible times
        try:
            client = Client(url, verbose=False, download_files=str(download_dir), ssl_verify=tls)
        except Exception as exc:  # could not even connect: all its runs are errors
            with lock:
                report.errors += [f"user {row[0].user}: connect: {exc}"] * len(row)
            start.wait(timeout=max(0.0, deadline - time.perf_counter()))
            return
        try:
            start.wait(timeout=max(0.0, deadline - time.perf_counter()))
        except threading.BrokenBarrierError:
            client.close()
            return
        try:
            for i, case in enumerate(row):
                if think_s > 0 and i > 0:
                    time.sleep(min(think_s * pause.uniform(0.5, 1.5), max(0.0, deadline - time.perf_counter())))
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                t0 = time.perf_counter()
                job = client.submit(model, composite(case.a_png), composite(case.b_png), steps, api_name="/run")
                try:
                    out = job.result(timeout=remaining)
                except TimeoutError:
                    job.cancel()
                    break
                except Exception as exc:
                    with lock:
                        report.errors.append(f"user {case.user} run {case.run}: {type(exc).__name__}: {exc}")
                    continue
                dt = time.perf_counter() - t0
                bad = mismatch(case, out)
                with lock:
                    report.latencies.append(dt)
                    last[0] = max(last[0], time.perf_counter())
                    if bad:
                        report.wrong.append(bad)
        finally:
            client.close()

    threads = [threading.Thread(target=user, args=(row,), daemon=True) for row in cases]
    for t in threads:
        t.start()
    try:
        start.wait(timeout=max(0.0, deadline - time.perf_counter()))  # every client connected: go
    except threading.BrokenBarrierError:
        pass  # the users that did connect go on; the others count their runs as lost
    t_go = time.perf_counter()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()) + 30)
    with lock:
        report.wall = max(0.0, last[0] - t_go)
        report.lost = report.requests - report.answered - len(report.errors)  # not answered by the deadline
        final = Report(report.requests, list(report.latencies), list(report.errors), list(report.wrong),
                       report.lost, report.wall)
    return final  # a snapshot: a thread stuck past the deadline cannot change it any more
