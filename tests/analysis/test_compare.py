import json

import pytest

from regae import load
from regae.analysis.compare import CPU_EPOCHS, CPU_OVERRIDES, plan_runs
from regae.cli import main
from regae.cli.report import split_data_args


def test_plan_runs_budgets(tmp_path):
    cpu = {r.name: r.argv for r in plan_runs(tmp_path, False, None, None, None, None, [])}
    assert list(cpu) == ["sparse", "contractive"]
    assert cpu["sparse"][:3] == ["fit", "--config", "sparse"] and cpu["contractive"][2] == "contractive-hutchinson"
    # same budget for both on the CPU default; --full leaves the presets' 20 epochs alone
    assert cpu["sparse"][3:-2] == cpu["contractive"][3:-2] == CPU_OVERRIDES
    assert cpu["sparse"][cpu["sparse"].index("--trainer.max_epochs") + 1] == str(CPU_EPOCHS)
    assert cpu["sparse"][cpu["sparse"].index("--model.lr_schedule") + 1] == "cosine"  # the seed's is constant
    full = plan_runs(tmp_path, True, None, None, "gpu", "1", ["--data.batch_size", "256"])
    assert full[0].argv == ["fit", "--config", "sparse", "--trainer.accelerator", "gpu", "--trainer.devices", "1",
                            "--trainer.default_root_dir", str(tmp_path / "sparse"), "--data.batch_size", "256"]
    epochs = plan_runs(tmp_path, False, 3, None, None, None, [])[0].argv
    assert epochs[-4:-2] == ["--trainer.max_epochs", "3"]  # after the budget's: the last one counts


def test_plan_runs_seeds(tmp_path):
    runs = plan_runs(tmp_path, False, None, None, None, None, [], seeds=2)
    assert [(r.name, r.seed) for r in runs] == [("sparse", 0), ("sparse", 1), ("contractive", 0), ("contractive", 1)]
    argv = runs[1].argv
    for flag in ("--seed_everything", "--model.seed", "--data.shuffle_seed"):
        assert argv[argv.index(flag) + 1] == "1"
    assert runs[1].root == tmp_path / "sparse" / "seed1" and runs[2].root == tmp_path / "contractive" / "seed0"


def test_data_options_go_to_every_fit():
    rest, data = split_data_args(["--out", "r", "--data.dataset", "fashion-mnist", "--data.image_size=32", "--seeds",
                                  "2"])
    assert rest == ["--out", "r", "--seeds", "2"] and data == ["--data.dataset", "fashion-mnist", "--data.image_size=32"]


@pytest.mark.slow
def test_compare_end_to_end_tiny_budget(tmp_path, capsys):
    out, runs = tmp_path / "report", tmp_path / "runs"
    argv = ["compare", "--out", str(out), "--runs-dir", str(runs), "--max-steps", "6", "--tsne-images", "200",
            "--probe-train", "500", "--reg-images", "64", "--seeds", "2", "--", "--model.widths", "[4,8,8]",
            "--data.limit_train", "768", "--data.limit_test", "256", "--trainer.limit_val_batches", "1"]
    assert main(argv) == 0
    for name in ("sparse", "contractive"):
        for seed in (0, 1):
            model = load(runs / name / f"seed{seed}" / "checkpoints" / "last.ckpt")  # a normal regae checkpoint
            assert model.hparams.widths == [4, 8, 8] and model.hparams.seed == seed
            assert model.hparams.lr_schedule == "cosine" and model.hparams.warmup == 0.02  # the CPU default's decay
    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["global_step"] for m in metrics["models"]["contractive"]] == [6, 6]
    assert set(metrics["overview"]) == {"sparse", "contractive", "comparisons"}
    assert len(metrics["overview"]["sparse"]["test_psnr_db_per_seed"]) == 2
    md = (out / "index.md").read_text()
    assert "with the default CPU budget" in md and "changed by command-line overrides" in md
    assert "--trainer.max_steps 6" in md and "--model.widths [4,8,8]" in md  # the exact commands
    # a second run refuses to overwrite the checkpoints (before any work)
    capsys.readouterr()
    assert main(argv) == 2 and "already holds checkpoints; pass --reuse" in capsys.readouterr().err
