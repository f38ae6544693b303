"""``python -m launch status DIR``: one row per run — scheduler state, steps, attempts, metrics.

The scheduler state comes from submitit (``sacct`` on Slurm); the step, attempts and metrics
from the run's own files (``status.json`` and ``attempts.jsonl``, written by rank 0), and the
step of ``last.ckpt`` from the checkpoint itself, so a finished run reads the same on any
cluster and a run whose job died shows where it will resume. The table is printed and also
written to ``DIR/status.txt``; runs that ended unfinished are listed under it with the resume
command.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import submitit

from launch.job import checkpoint_step, last_checkpoint, load_status, read_attempts
from launch.options import check_text
from launch.records import read_launch_file
from regae.checkpoints.write import atomic_write_text
from regae.errors import OutputError

LAUNCH_FILE = "launch.json"
METRICS = ("train/loss", "val/psnr", "test/psnr")
#: Slurm states of a job that is over (and will not be requeued by Slurm itself)
ENDED_STATES = {"COMPLETED", "FAILED", "NODE_FAIL", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "BOOT_FAIL",
                "DEADLINE", "SPECIAL_EXIT"}
#: Slurm states of a job that was requeued and waits to start again
REQUEUED_STATES = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED"}


#: the run state of a run whose status.json is not one (the file is named under the table)
UNREADABLE = "unreadable"


def read_launch(root: Path) -> dict[str, Any]:
    """The launch record of the folder ``root``, checked (:func:`launch.records.check_launch`)."""
    path = Path(root) / LAUNCH_FILE
    if not path.exists() and not path.is_symlink():
        raise OutputError(f"no {LAUNCH_FILE} in {root}: not a launch folder (python -m launch prints it)")
    return read_launch_file(path)


def scheduler_state(record: dict[str, Any], job_id: str) -> str:
    """Slurm's state of ``job_id`` (e.g. RUNNING, COMPLETED, PENDING); '-' where none is known."""
    if record["cluster"] != "slurm":
        return "-"
    try:
        state = submitit.SlurmJob(folder=record["submitit_folder"], job_id=job_id).state
    except Exception:  # sacct/scontrol unreachable: the run's own record still tells a lot
        return "UNKNOWN"
    return (state.split() or ["UNKNOWN"])[0]  # "CANCELLED by 0" -> "CANCELLED"


def run_row(record: dict[str, Any], run: dict[str, Any], problems: list[str] | None = None) -> dict[str, Any]:
    """One row of the table; a status.json that is not one shows the run state ``unreadable`` and
    its one-line reason is appended to ``problems``."""
    run_dir = Path(run["dir"])
    try:
        status = load_status(run_dir)
    except OutputError as exc:
        status = {"state": UNREADABLE, "global_step": None}
        if problems is not None:
            problems.append(str(exc))
    ckpt = last_checkpoint(run_dir)
    state = scheduler_state(record, run["job_id"])
    run_state = status.get("state", "queued")
    if state in ENDED_STATES and run_state in ("queued", "running"):
        run_state = "interrupted"  # the job ended without a last word from rank 0 (its node died, SIGKILL)
    elif state in REQUEUED_STATES and run_state == "running":
        run_state = "requeued"  # killed after saving on SIGTERM, waiting to start again
    return {
        "run": run["name"], "job": run["job_id"], "state": state, "run_state": run_state,
        "step": status.get("global_step", 0), "ckpt_step": checkpoint_step(ckpt) if ckpt else None,
        "attempts": len(read_attempts(run_dir)),
        **{m: status.get("metrics", {}).get(m) for m in METRICS},
        "checkpoint": str(ckpt) if ckpt else "-",
    }


def rows(root: Path, problems: list[str] | None = None) -> list[dict[str, Any]]:
    record = read_launch(root)
    return [run_row(record, run, problems) for run in record["runs"]]


def format_table(table: list[dict[str, Any]]) -> str:
    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    header = list(table[0]) if table else ["run"]
    cells = [[cell(r[k]) for k in header] for r in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def unfinished_note(table: list[dict[str, Any]], root: Path) -> list[str]:
    """One line per run whose job ended before the run completed, and how to resume them."""
    ended = [r for r in table if r["run_state"] != "completed" and r["state"] in ENDED_STATES]
    if not ended:
        return []
    lines = [f"{r['run']}: job {r['job']} {r['state']}, run {r['run_state']}; "
             + (f"last.ckpt holds step {r['ckpt_step']}" if r["ckpt_step"] is not None else "no checkpoint yet")
             for r in ended]
    return [*lines, f"resume: python -m launch resume {root}"]


def status_text(root: Path, problems: list[str] | None = None) -> str:
    table = rows(root, problems)
    return "\n".join([format_table(table), *unfinished_note(table, root)])


def status_main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m launch status DIR")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    root = Path(check_text("DIR", argv[0])).resolve()
    problems: list[str] = []
    text = status_text(root, problems)
    atomic_write_text(text + "\n", root / "status.txt")
    print(text)
    if problems:  # the other runs' rows are above; one line for the unreadable ones
        more = f" (and {len(problems) - 1} more unreadable status.json)" if len(problems) > 1 else ""
        print(f"launch: error: {problems[0]}{more}", file=sys.stderr)
        return 2
    return 0
