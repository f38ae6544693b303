"""Learning-rate schedules: closed-form values, and the rate the optimizer really uses per step."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import pytest

from regae import AutoEncoder, MNISTDataModule
from regae.errors import ConfigError
from regae.model.schedule import lr_factor


def test_cosine_closed_form() -> None:
    # T = 10, warm-up 2 steps: 0.5, 1.0, then 1 -> 0.1 along half a cosine over 8 steps
    f = [lr_factor(t, 10, "cosine", warmup=0.2, floor=0.1) for t in range(12)]
    assert f[:2] == [0.5, 1.0]
    assert f[2] == pytest.approx(1.0)
    assert f[6] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 4 / 8)))  # = 0.55
    assert f[6] == pytest.approx(0.55)
    assert f[10] == f[11] == pytest.approx(0.1)  # the floor, held after the end
    assert all(a >= b for a, b in zip(f[2:], f[3:]))  # monotone decay after the warm-up
    assert lr_factor(5, 10, "constant", 0.5, 0.5) == 1.0


@pytest.mark.parametrize("kwargs, match", [({"lr_schedule": "step"}, "lr_schedule"), ({"warmup": 1.0}, "warmup"),
                                           ({"lr_floor": -0.1}, "lr_floor")])
def test_bad_schedule_is_a_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AutoEncoder(arch="mlp", widths=[], latent_dim=4, **kwargs)


class LrRecorder(pl.Callback):
    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])


def test_trainer_uses_the_schedule_per_step(tmp_path) -> None:
    model = AutoEncoder(arch="mlp", widths=[8], latent_dim=4, lr=2e-3, lr_schedule="cosine", warmup=0.25, lr_floor=0.0)
    data = MNISTDataModule(batch_size=16, limit_train=64, limit_test=16)  # 4 steps per epoch
    rec = LrRecorder()
    trainer = pl.Trainer(max_epochs=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[rec], default_root_dir=tmp_path)
    trainer.fit(model, datamodule=data)
    assert len(rec.lrs) == 12
    assert rec.lrs == pytest.approx([2e-3 * lr_factor(t, 12, "cosine", 0.25, 0.0) for t in range(12)], rel=1e-9)


class StopAt(pl.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            trainer.should_stop = True  # as if killed here, with the full run's budget configured


def test_resumed_run_continues_the_schedule(tmp_path) -> None:
    def run(stop: int | None = None, ckpt: str | None = None) -> tuple[LrRecorder, pl.Trainer]:
        pl.seed_everything(0, verbose=False)
        model = AutoEncoder(arch="mlp", widths=[8], latent_dim=4, lr_schedule="cosine", warmup=0.1)
        rec = LrRecorder()
        trainer = pl.Trainer(max_epochs=4, logger=False, enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=0, callbacks=[rec] + ([StopAt(stop)] if stop else []),
                             default_root_dir=tmp_path, enable_checkpointing=False)  # saved by hand below
        trainer.fit(model, datamodule=MNISTDataModule(batch_size=16, limit_train=64, limit_test=16), ckpt_path=ckpt)
        return rec, trainer

    whole, _ = run()
    first, trainer = run(stop=8)
    trainer.save_checkpoint(tmp_path / "half.ckpt")
    second, _ = run(ckpt=str(tmp_path / "half.ckpt"))
    assert len(whole.lrs) == 16 and first.lrs == whole.lrs[:8]
    assert second.lrs == pytest.approx(whole.lrs[8:], rel=1e-12)
