"""regae.study.figures: every figure helper writes a real PNG."""





def test_figure_helpers_write_pngs(tmp_path):
    import torch

    from regae.study import figures

    imgs = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    paths = [
        figures.image_rows(tmp_path / "rows.png", [("a", imgs), ("b", imgs[:2])], title="t", col_titles=["x", "y", "z"]),
        figures.tiles(tmp_path / "tiles.png", torch.randn(5, 784), "w"),
        figures.curves(tmp_path / "c.png", {"s": ([1, 2], [0.5, 0.25])}, "x", "y", "t", logy=True, integer_x=True),
        figures.bars(tmp_path / "b.png", {"0": 1.0, "1": 2.0}, "y", "t"),
        figures.histograms(tmp_path / "h.png", {"a": torch.randn(100), "b": torch.rand(50)}, "x", "t"),
        figures.heatmaps(tmp_path / "m.png", [("r", [torch.rand(34, 34)] * 2)], "t", col_titles=["p", "q"]),
    ]
    for p in paths:
        data = p.read_bytes()
        assert data[:4] == b"\x89PNG" and len(data) > 2000
