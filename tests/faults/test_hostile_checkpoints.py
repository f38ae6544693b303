"""Hostile and careless input to checkpoints and training runs: one line, bounded memory, nothing lost.

Each case of the second sweep (issue "Hostile and careless input") that lives in the model and
training side: checkpoints with NaN weights, a malformed structure, absurd sizes or a compressed
bomb inside their zip, absurd sizes on the command line, Lightning's own value errors, an output
folder that cannot be written, more CPU processes than cores, and Ctrl-C. Where memory was the
problem the child runs under ``RLIMIT_AS``, so a regression fails the test, not the machine.
Then fuzzing: any checkpoint dict loads or is one CheckpointError, never another exception.
"""

from __future__ import annotations

import io
import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import regae
from regae.checkpoints.read import model_from, read_checkpoint
from regae.checkpoints.write import atomic_save
from regae.errors import CheckpointError
from tests.support.faults import TINY, env, error_lines
from tests.support.faults import regae as run_regae

pytestmark = pytest.mark.faults

#: address space a child may use beyond what importing regae and loading a small checkpoint takes (the CUDA
#: build of torch maps ~3.5 GiB at import): a 784 x 500,000 layer alone would take 1.5 GiB more
MARGIN = 3 * 2**30 // 2
PEAK = "print('peak', [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmPeak')][0])"


def small_checkpoint() -> dict:
    model = regae.AutoEncoder(arch="mlp", widths=[], latent_dim=8)
    ckpt = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}
    model.on_save_checkpoint(ckpt)
    return ckpt


@pytest.fixture(scope="module")
def ceiling(tmp_path_factory) -> int:
    """The address space a child needs to import regae and load a small checkpoint, plus :data:`MARGIN`."""
    path = atomic_save(small_checkpoint(), tmp_path_factory.mktemp("base") / "small.ckpt")
    proc = subprocess.run([sys.executable, "-c", f"import regae\nregae.load({str(path)!r})\n{PEAK}"],
                          capture_output=True, text=True, timeout=300, env=env())
    return int(proc.stdout.split()[-1]) * 1024 + MARGIN


def limited(code: str, ceiling: int) -> subprocess.CompletedProcess:
    """``python -c code`` with its address space capped at ``ceiling`` bytes."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env(),
                          preexec_fn=cap, cwd=Path(__file__).resolve().parents[2])


BAD = {
    "nan": (lambda c: c | {"state_dict": {k: torch.full_like(v, float("nan")) for k, v in c["state_dict"].items()}},
            "holds non-finite weights (NaN or inf) in net.encoder.1.weight"),
    "hyper_parameters a list": (lambda c: c | {"hyper_parameters": [1, 2]}, "'hyper_parameters' must be a mapping"),
    "state_dict a list": (lambda c: c | {"state_dict": [1, 2]}, "'state_dict' must map names to tensors"),
    "data record a string": (lambda c: c | {"regae": {**c["regae"], "data": "mnist"}},
                             "data record ('regae.data') must be a mapping"),
    "latent_dim 10**9": (lambda c: c | {"hyper_parameters": {**c["hyper_parameters"], "latent_dim": 10**9}},
                         "Expected a net of at most 250,000,000 parameters"),
    "widths [30000]*3": (lambda c: c | {"hyper_parameters": {**c["hyper_parameters"], "widths": [30000] * 3}},
                         "Expected a net of at most 250,000,000 parameters"),
    "shapes of another net": (lambda c: c | {"hyper_parameters": {**c["hyper_parameters"], "latent_dim": 9}},
                              "does not match its own hyperparameters"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_checkpoint_is_one_clear_error(tmp_path, case):
    make, message = BAD[case]
    path = atomic_save(make(small_checkpoint()), tmp_path / "bad.ckpt")
    with pytest.raises(CheckpointError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        regae.load(path)


def test_absurd_sizes_in_a_checkpoint_are_refused_before_memory_is_spent(tmp_path, ceiling):
    """A 400 KB checkpoint saying latent_dim=500,000 took 2.3 GB and 14 s; now nothing is allocated."""
    ckpt = small_checkpoint()
    ckpt["hyper_parameters"]["latent_dim"] = 500_000
    path = atomic_save(ckpt, tmp_path / "huge.ckpt")
    t0 = time.perf_counter()
    proc = limited(f"import regae\ntry:\n    regae.load({str(path)!r})\nexcept regae.CheckpointError as e:\n"
                   "    print('refused:', e)", ceiling)
    assert proc.returncode == 0 and "refused:" in proc.stdout and "Expected a net of at most" in proc.stdout, proc.stderr
    assert time.perf_counter() - t0 < 60


def test_a_checkpoint_compressed_inside_its_zip_is_not_inflated(tmp_path, ceiling):
    """A 1.5 MB file that inflated to 1.6 GB before any check: refused from the zip's directory."""
    buf = io.BytesIO()
    torch.save(small_checkpoint(), buf)
    source = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    path = tmp_path / "bomb.ckpt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            z.writestr(info.filename, source.read(info))
        z.writestr(source.infolist()[0].filename.split("/")[0] + "/data/99", b"\0" * (1500 * 2**20))
    assert path.stat().st_size < 4 * 2**20
    proc = limited(f"import regae\ntry:\n    regae.load({str(path)!r})\nexcept regae.CheckpointError as e:\n"
                   "    print('refused:', e)", ceiling)
    assert "refused:" in proc.stdout and "inflates" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize(("extra", "message"), [
    (["--model.latent_dim", "1000000000", "--model.arch", "mlp"], "Expected a net of at most 250,000,000 parameters"),
    (["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1"),
    (["--trainer.max_steps", "-2"], "`max_steps` must be a non-negative integer or -1"),
    (["--checkpoint.every_n_train_steps", "-1"], "every_n_train_steps=-1. Must be >= 0"),
    (["--trainer.default_root_dir", "/etc/passwd/run"], "cannot write checkpoints and logs to /etc/passwd/run"),
    (["--trainer.devices", "64", "--trainer.accelerator", "cpu", "--trainer.strategy", "ddp"],
     "starts 64 training processes on this CPU's"),
])
def test_mistakes_lightning_would_trace_back_are_one_line(tmp_path, extra, message):
    proc = run_regae("fit", *TINY, "--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp_path / "run"),
                     *extra, timeout=300)
    assert proc.returncode == 2 and len(error_lines(proc.stderr)) == 1 and message in proc.stderr, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and not list(tmp_path.glob("run/checkpoints/*.ckpt"))


def test_ctrl_c_saves_the_step_it_stopped_at_and_exits_130(tmp_path):
    log = tmp_path / "fit.log"
    args = [str(Path(sys.executable).with_name("regae")), "fit", *TINY, "--trainer.max_steps", "100000",
            "--trainer.max_epochs", "-1", "--trainer.default_root_dir", str(tmp_path / "run")]
    with open(log, "w") as f:
        proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env())
    deadline = time.monotonic() + 240
    while "training " not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # well into the steps
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130, log.read_text()[-2000:]
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("regae: interrupted")]
    assert len(lines) == 1 and "resume with --ckpt_path last" in lines[0], log.read_text()[-2000:]
    step = int(lines[0].split("at step ")[1].split(":")[0])
    saved = read_checkpoint(tmp_path / "run/checkpoints/last.ckpt")
    assert step > 0 and saved["global_step"] == step and "Traceback" not in log.read_text()
    resumed = run_regae("fit", *TINY, "--trainer.max_steps", str(step + 3), "--trainer.max_epochs", "-1",
                        "--trainer.default_root_dir", str(tmp_path / "run"), "--ckpt_path", "last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert read_checkpoint(tmp_path / "run/checkpoints/last.ckpt")["global_step"] == step + 3


values = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) |
                      st.text(max_size=8), lambda inner: st.lists(inner, max_size=3) |
                      st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
tensors = st.builds(lambda shape, fill: torch.full(shape, fill), st.lists(st.integers(0, 4), max_size=3).map(tuple),
                    st.floats(allow_nan=True, allow_infinity=True, width=32))
hparams = st.fixed_dictionaries({}, optional={
    "arch": st.sampled_from(["mlp", "unet", "conv", "vae", "nope", 3]),
    "latent_dim": st.one_of(st.integers(-5, 10**12), st.floats(allow_nan=True), st.text(max_size=3)),
    "widths": st.one_of(st.lists(st.integers(-2, 10**7), max_size=4), st.text(max_size=3)),
    "input_shape": st.one_of(st.lists(st.integers(-1, 10**6), max_size=4), st.none()),
    "regularizers": values, "loss": st.sampled_from(["mse", "bce", "x"]), "tied": st.booleans(),
    "extra": values,
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hp=st.one_of(hparams, values), state=st.one_of(st.dictionaries(st.text(max_size=20), tensors, max_size=4), values),
       entry=st.one_of(st.dictionaries(st.sampled_from(["version", "data", "loss_history"]), values, max_size=3), values))
def test_any_checkpoint_dict_loads_or_is_one_checkpoint_error(tmp_path_factory, hp, state, entry):
    path = atomic_save({"state_dict": state, "hyper_parameters": hp, "regae": entry},
                       tmp_path_factory.mktemp("fuzz") / "c.ckpt")
    try:
        model = model_from(read_checkpoint(path), path)
    except CheckpointError:
        return
    assert sum(p.numel() for p in model.parameters()) <= 250_000_000  # what loaded is a real, bounded model
    assert os.path.getsize(path) > 0


yaml_text = st.recursive(
    st.sampled_from(["a", "1", "-1e9", "[", "]", "{", "}", "&x ", "*x", "- ", ": ", "\n", "  ", "'", '"', "!!python/object ",
                     "model:", "trainer:", "class_path: os.system", "widths: ", "<<: *x"]),
    lambda inner: st.lists(inner, max_size=6).map("".join), max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(text=yaml_text)
def test_any_config_text_is_read_or_one_config_error(tmp_path_factory, text):
    from regae.configs.preflight import check_config_file, check_trainer_argv
    from regae.errors import ConfigError

    path = tmp_path_factory.mktemp("yaml") / "c.yaml"
    path.write_text(text)
    for check in (lambda: check_config_file(str(path)), lambda: check_trainer_argv(["fit", "--model.widths", text])):
        try:
            check()
        except ConfigError:
            pass
