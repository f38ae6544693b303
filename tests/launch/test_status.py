"""launch.status: the status table."""

from __future__ import annotations

from launch.status import format_table


def test_format_table_aligns_columns() -> None:
    text = format_table([{"run": "00", "step": 6, "val/psnr": 6.48812}, {"run": "01-long", "step": 12, "val/psnr": None}])
    assert text.splitlines() == [
        "run      step  val/psnr",
        "00       6     6.488",
        "01-long  12    -",
    ]
