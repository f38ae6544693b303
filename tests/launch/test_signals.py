"""launch.signals without Slurm: a real one-process fit that sends itself SIGTERM or USR2 mid-run,
and the shell lines every Slurm task starts with."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import lightning.pytorch as pl
import pytest
from lightning.pytorch.callbacks import Callback

from launch import submit
from launch.options import LaunchOptions
from launch.signals import JobStopped, StopOnSignal
from launch.submit import job_setup
from regae import read_checkpoint
from regae.training.lightning_cli import run_trainer_cli

STEPS = 12


class SendAt(Callback):
    """Sends this process ``signum`` at the end of training step ``step`` (a stand-in for Slurm)."""

    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def on_train_batch_start(self, trainer: pl.Trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)


def fit(root: Path, *callbacks: Callback) -> None:
    argv = ["fit", "--model.arch", "mlp", "--model.widths", "[16]", "--model.latent_dim", "4",
            "--data.limit_train", "64", "--data.limit_test", "32", "--data.batch_size", "16",
            "--trainer.max_steps", str(STEPS), "--trainer.max_epochs", "-1", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
            "--trainer.default_root_dir", str(root)]
    run_trainer_cli(argv, extra_callbacks=list(callbacks))


def test_sigterm_saves_that_step_then_training_goes_on(tmp_path: Path, capsys) -> None:
    stop = StopOnSignal(tmp_path / "signal.ckpt", term_wait_s=0.2)
    before = signal.getsignal(signal.SIGTERM)
    fit(tmp_path, stop, SendAt(5, signal.SIGTERM))
    assert stop.saved == [("SIGTERM", 6)]  # raised during step 6 (0-based 5), saved when it ended
    assert read_checkpoint(tmp_path / "signal.ckpt")["global_step"] == 6
    assert read_checkpoint(tmp_path / "checkpoints" / "last.ckpt")["global_step"] == STEPS  # no kill came
    out = capsys.readouterr().out
    assert "[launch] rank 0: SIGTERM at step 6: saved" in out and "training on" in out
    assert signal.getsignal(signal.SIGTERM) is before  # handlers put back


def test_usr2_saves_that_step_and_stops_for_a_requeue(tmp_path: Path) -> None:
    stop = StopOnSignal(tmp_path / "signal.ckpt")
    with pytest.raises(JobStopped) as stopped:
        fit(tmp_path, stop, SendAt(3, signal.SIGUSR2))
    assert (stopped.value.step, stopped.value.name, stopped.value.code) == (4, "SIGUSR2", 128 + signal.SIGUSR2)
    assert stop.saved == [("SIGUSR2", 4)]
    assert read_checkpoint(tmp_path / "signal.ckpt")["global_step"] == 4


@pytest.mark.parametrize(("env", "cpus", "policy", "threads"), [
    ({}, 3, "PASSIVE", "3"),  # regae's policy, the task's CPUs
    ({}, 1, "PASSIVE", "1"),
    ({"OMP_WAIT_POLICY": "ACTIVE", "OMP_NUM_THREADS": "5"}, 3, "ACTIVE", "5"),  # the user's, passed on by sbatch
    ({"GOMP_SPINCOUNT": "1000"}, 2, "-", "2"),  # a user's spin count: no policy set
])
def test_every_task_starts_with_regaes_thread_settings(env: dict[str, str], cpus: int, policy: str,
                                                       threads: str) -> None:
    """The batch script's lines, decided by regae.threads.job for the submitting environment, which
    sbatch passes on to the job."""
    script = "\n".join([*job_setup(LaunchOptions(cpus_per_task=cpus), env),
                        'echo "${OMP_WAIT_POLICY:--} $OMP_NUM_THREADS $PYTHONPATH"'])
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    out = subprocess.run(["bash", "-c", script], env={**clean, **env}, capture_output=True, text=True, check=True)
    got_policy, got_threads, pythonpath = out.stdout.split()
    assert (got_policy, got_threads) == (policy, threads)
    assert pythonpath.split(":")[0] == str(Path(__file__).resolve().parents[2])  # the job imports launch/ from here


def test_a_checkout_path_with_spaces_or_shell_syntax_stays_a_path(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "my clone $(touch pwned) `touch pwned2`"
    monkeypatch.setattr(submit, "REPO_ROOT", root)
    script = "\n".join([*job_setup(LaunchOptions(), {}), 'printf "%s" "$PYTHONPATH"'])
    out = subprocess.run(["bash", "-c", script], env={"PATH": os.environ["PATH"]}, capture_output=True, text=True,
                         check=True, cwd=tmp_path)
    assert out.stdout == str(root) and not list(tmp_path.glob("pwned*"))
