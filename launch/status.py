"""``python -m launch status DIR``: one row per run — scheduler state, step, last metrics, checkpoint.

The scheduler state comes from submitit (``sacct`` on Slurm); the step and metrics from the
run's own ``status.json`` (written by rank 0), so a finished run reads the same on any cluster.
The table is printed and also written to ``DIR/status.txt``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import submitit

from launch.job import last_checkpoint, read_attempts, read_status
from regae.errors import OutputError

LAUNCH_FILE = "launch.json"
METRICS = ("train/loss", "val/psnr", "test/psnr")


def read_launch(root: Path) -> dict[str, Any]:
    path = Path(root) / LAUNCH_FILE
    if not path.is_file():
        raise OutputError(f"no {LAUNCH_FILE} in {root}: not a launch folder (python -m launch prints it)")
    return json.loads(path.read_text())


def scheduler_state(record: dict[str, Any], job_id: str) -> str:
    """Slurm's state of ``job_id`` (e.g. RUNNING, COMPLETED, PENDING); '-' where none is known."""
    if record["cluster"] != "slurm":
        return "-"
    try:
        return submitit.SlurmJob(folder=record["submitit_folder"], job_id=job_id).state
    except Exception:  # sacct/scontrol unreachable: the run's own record still tells a lot
        return "UNKNOWN"


def rows(root: Path) -> list[dict[str, Any]]:
    record = read_launch(root)
    out = []
    for run in record["runs"]:
        status = read_status(Path(run["dir"]))
        ckpt = last_checkpoint(Path(run["dir"]))
        out.append({
            "run": run["name"], "job": run["job_id"], "state": scheduler_state(record, run["job_id"]),
            "run_state": status.get("state", "queued"), "step": status.get("global_step", 0),
            "starts": len(read_attempts(Path(run["dir"]))),
            **{m: status.get("metrics", {}).get(m) for m in METRICS},
            "checkpoint": str(ckpt) if ckpt else "-",
        })
    return out


def format_table(table: list[dict[str, Any]]) -> str:
    def cell(v: Any) -> str:
        return "-" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v)

    header = list(table[0]) if table else ["run"]
    cells = [[cell(r[k]) for k in header] for r in table]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def status_main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m launch status DIR")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    root = Path(argv[0]).resolve()
    text = format_table(rows(root))
    (root / "status.txt").write_text(text + "\n")
    print(text)
    return 0
