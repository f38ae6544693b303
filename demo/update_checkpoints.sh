#!/usr/bin/env bash
# The demo's default checkpoints: byte-for-byte copies of the report's full-budget models.
#
#   bash demo/update_checkpoints.sh [SOURCE_DIR] [OUT_DIR]     (default docs/report-full demo/checkpoints)
#
# docs/report-full/{sparse,contractive}.ckpt are weights-only copies of the two 20-epoch runs
# (8,600 steps, batch 128) behind docs/report-full/index.md (`regae fit --config sparse` and
# `--config contractive-hutchinson`; test PSNR 24.43 / 24.81 dB). The demo's card reads their
# hyperparameters, steps and epoch from the files themselves. Copies, not links: the wheel ships
# demo/checkpoints, not docs/. The script checks that each copy is identical to its source and
# loads with `regae.load`, and prints its sha256 (the demo's analysis cache is keyed by it).
# The slim U-Nets the tests start quickly on are tests/demo/checkpoints (demo/train_checkpoints.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-docs/report-full}
OUT=${2:-demo/checkpoints}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python
mkdir -p "$OUT"
for name in sparse contractive; do
    cp "$SRC/$name.ckpt" "$OUT/$name.ckpt"
    cmp "$SRC/$name.ckpt" "$OUT/$name.ckpt"
done
"$PY" - "$OUT" <<'PYEOF'
import hashlib
import sys
from pathlib import Path

import torch

import regae

for name in ("sparse", "contractive"):
    path = Path(sys.argv[1]) / f"{name}.ckpt"
    model = regae.load(path)  # must load with the public loader
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path}: {sum(p.numel() for p in model.parameters()):,} parameters, step {ckpt.get('global_step')}, "
          f"epoch {ckpt.get('epoch', 0) + 1}, {path.stat().st_size:,} bytes, sha256 {sha[:16]}")
PYEOF
