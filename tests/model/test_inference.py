"""regae.model.inference: PSNR as torchmetrics defines it (hand-worked numbers, honest infinities)."""

import math

import torch

from regae.model.inference import psnr


def test_psnr_hand_example():
    a = torch.zeros(2, 1, 2, 2)
    b = a.clone()
    b[0, 0, 0, 0] = 0.1  # MSE = 0.01 / 4 = 0.0025 -> PSNR = 10 log10(1 / 0.0025) = 10 log10(400)
    b[1] = 0.5  # MSE = 0.25 -> 10 log10(4)
    got = psnr(b, a, dim=(1, 2, 3))
    assert torch.allclose(got, torch.tensor([10 * math.log10(400), 10 * math.log10(4)], dtype=torch.float64), atol=1e-4)
    assert abs(got[0].item() - 26.0206) < 1e-3



def test_psnr_identical_is_inf_not_error():
    x = torch.rand(3, 1, 28, 28)
    assert torch.isinf(psnr(x, x, dim=(1, 2, 3))).all()
