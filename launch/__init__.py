"""Send ``regae fit`` to Slurm (or run it locally) with submitit: DDP tasks, sweeps, requeue.

Not part of the installed ``regae`` package: run ``python -m launch`` from the repository root.
"""

from launch.job import TrainJob
from launch.options import LaunchOptions, parse_options
from launch.status import format_table, rows
from launch.submit import Launch, launch

__all__ = ["Launch", "LaunchOptions", "TrainJob", "format_table", "launch", "parse_options", "rows"]
