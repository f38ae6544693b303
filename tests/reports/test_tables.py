"""regae.reports.tables and the JSON rule: numbers as the report prints them, markdown tables, ∞ and NaN in JSON."""


import json

import torch

from regae.checkpoints.write import json_safe
from regae.reports.tables import fmt, fmt_mean_std, md_table, mean_std, parse_md_tables


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
