"""regae.nets.codes: topk and batch_topk codes, their K schedule and their dead-unit clock."""

import pytest
import torch

from regae import AutoEncoder
from regae.errors import ConfigError
from regae.nets.codes import BatchTopK, TopK, active_units, keep_largest, parse_code


def test_topk_keeps_the_k_largest_of_each_row_and_passes_gradients_only_through_them():
    z = torch.tensor([[3.0, -1.0, 2.0, 0.5, 4.0], [0.1, 0.2, 0.3, 0.4, 0.5]], requires_grad=True)
    code = TopK(2, 5)
    h = code(z)
    assert torch.equal(h, torch.tensor([[3.0, 0, 0, 0, 4.0], [0, 0, 0, 0.4, 0.5]]))
    h.sum().backward()
    assert torch.equal(z.grad, torch.tensor([[1.0, 0, 0, 0, 1], [0, 0, 0, 1, 1]]))


def test_topk_keeps_exactly_k_when_the_k_largest_are_positive_and_never_a_negative():
    z = torch.randn(64, 100).abs() + 0.01
    assert ((TopK(7, 100)(z) != 0).sum(1) == 7).all()
    z[:, :] = -1.0
    z[:, 3] = 2.0
    assert ((TopK(7, 100)(z) != 0).sum(1) == 1).all()  # ReLU(TopK): only the positive one of the 7 stays


def test_alpha_k_at_test_time_and_the_k_schedule():
    code = TopK(10, 100, alpha=3, start=50, anneal=0.5)
    z = torch.rand(4, 100) + 0.1
    code.set_step(0, 1000)
    assert code.k_now == 50 and ((code(z) != 0).sum(1) == 50).all()
    code.set_step(250, 1000)  # half way through the annealing (500 steps)
    assert code.k_now == 30
    code.set_step(500, 1000)
    assert code.k_now == 10 and ((code(z) != 0).sum(1) == 10).all()
    code.eval()
    assert ((code(z) != 0).sum(1) == 30).all()  # round(3 · 10) units at test time


def test_batch_topk_keeps_b_times_k_in_training_and_its_threshold_in_eval():
    torch.manual_seed(0)
    code = BatchTopK(3, 20, momentum=1.0)  # momentum 1: the threshold is the last batch's smallest kept value
    z = torch.randn(8, 20)
    h = code(z)
    kept = z.flatten().topk(24).values
    assert int((h != 0).sum()) == int((kept > 0).sum()) and torch.isclose(code.threshold, kept[kept > 0].min())
    code.eval()
    alone = code(z[:1])
    assert torch.equal(alone, code(z)[:1])  # one image's code does not depend on its batch
    assert torch.equal(alone, z[:1].relu() * (z[:1] > code.threshold))


def test_the_dead_unit_clock_counts_training_steps_without_firing():
    code = TopK(1, 3)
    z = torch.tensor([[1.0, 0.5, -1.0]])
    for _ in range(4):
        code(z)  # only unit 0 ever fires
    assert code.steps_since_fired.tolist() == [0, 4, 4] and code.dead(4).tolist() == [False, True, True]
    code(torch.tensor([[0.0, 2.0, -1.0]]))
    assert code.steps_since_fired.tolist() == [1, 0, 5]
    code.eval()
    code(z)  # evaluation does not move the clock
    assert code.steps_since_fired.tolist() == [1, 0, 5]


def test_active_units_per_kind_of_code():
    h = torch.tensor([[0.0, 0.3, 0.7, -0.2]])
    assert active_units(h, "topk:2").tolist() == [[False, True, True, False]]
    assert active_units(h, "relu").tolist() == [[False, True, True, False]]
    assert active_units(h, "sigmoid").tolist() == [[False, False, True, False]]
    assert active_units(h, "none").all()


@pytest.mark.parametrize(("spec", "message"), [
    ("topk", "topk:K or batch_topk:K"), ("topk:x", "topk:K or batch_topk:K"), ("topk:0", "K in \\[1"),
    ("topk:5,beta=1", "Unknown option 'beta=1'"), ("topk:5,alpha=x", "Expected a number for alpha"),
    ("topk:5,alpha=0.5", "alpha >= 1"), ("topk:5,start=200", "start in \\[K=5"), ("topk:5,start=20", "anneal in"),
    ("batch_topk:5,momentum=0", "momentum in"),
])
def test_bad_specs_are_one_config_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        AutoEncoder(arch="mlp", widths=[], latent_dim=100, latent_activation=spec)


def test_parse_code_and_keep_largest():
    assert parse_code("topk:25,alpha=3,start=100,anneal=0.5") == ("topk", 25, {"alpha": 3.0, "start": 100.0, "anneal": 0.5})
    assert torch.equal(keep_largest(torch.tensor([1.0, 3.0, 2.0]), 1, dim=0), torch.tensor([0.0, 3.0, 0.0]))


@pytest.mark.parametrize("arch", ["mlp", "unet", "conv"])
def test_every_architecture_takes_a_sparse_code(arch):
    kwargs = {"conv": dict(widths=[4, 4, 4]), "unet": dict(widths=[4, 8], latent_dim=16), "mlp": dict(latent_dim=16)}[arch]
    model = AutoEncoder(arch=arch, latent_activation="topk:3", **kwargs)
    h = model.encode(torch.rand(5, 1, 28, 28))
    assert ((h != 0).sum(1) <= 3).all() and model(torch.rand(5, 1, 28, 28)).x_hat.shape == (5, 1, 28, 28)


def test_a_run_interrupted_and_resumed_repeats_the_k_schedule(tmp_path):
    """K annealed over the run is a function of the step: a run stopped by Ctrl-C at step 4 (its step
    saved) and resumed with the same command ends where 8 straight steps do."""
    from tests.support.helpers import interrupted_and_resumed

    straight, resumed = interrupted_and_resumed(tmp_path, "--model.arch", "mlp", "--model.widths", "[]",
                                                "--model.latent_dim", "64", "--model.latent_activation",
                                                "topk:4,start=32,anneal=1")
    for name, w in straight.items():
        assert torch.allclose(w, resumed[name], atol=1e-6), name
