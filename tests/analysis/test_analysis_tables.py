import json
import math

import torch

from regae.model.inference import psnr
from regae.reports.tables import fmt, fmt_mean_std, json_safe, md_table, mean_std, parse_md_tables


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


def test_mean_std_finite_and_inf():
    s = mean_std([1.0, 3.0])
    assert s == {"mean": 2.0, "std": 1.0}
    inf = mean_std(torch.tensor([float("inf")] * 4))
    assert inf["mean"] == float("inf") and inf["std"] is None
    assert fmt_mean_std(inf) == "∞"
    assert fmt_mean_std(s, 3) == "2.000 ± 1.000"


def test_fmt_and_json_inf_are_explicit():
    assert fmt(float("inf")) == "∞" and fmt(None) == "n/a" and fmt(1.23456, 3) == "1.235"
    data = json_safe({"p": [float("inf"), 1.5, float("nan")], "t": torch.tensor([float("-inf"), 2.0])})
    assert data == {"p": ["inf", 1.5, None], "t": ["-inf", 2.0]}
    json.dumps(data, allow_nan=False)  # valid strict JSON


def test_md_table_round_trip():
    md = "text\n\n" + md_table(["a", "b"], [[1, "∞"], ["x y", 2.5]]) + "\n\nmore"
    assert parse_md_tables(md) == [[["a", "b"], ["1", "∞"], ["x y", "2.5"]]]
