#!/usr/bin/env bash
# The GPU check (issue #26), on the GPU machine, from the repository root, with .whl/ carried:
#
#     bash benchmarks/gpu/check.sh [OUT_DIR] [check.py options]    # OUT_DIR defaults to $OUT, else ./gpu-check
#
# Installs the carried wheels (benchmarks/gpu/prepare.sh) into /tmp/site unless jsonargparse is already
# importable, then runs benchmarks/gpu/check.py with its log tee'd into OUT_DIR/gpu-check.log. check.py
# stops starting stages at its deadline (--budget-s, default 450 s), so the whole command ends within
# about 8 minutes: give the device call a timeout_s of 540 or more.
set -uo pipefail

cd "$(dirname "$0")/../.."
out=${OUT:-gpu-check}
if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then out=$1; shift; fi
mkdir -p "$out"

if ! python3 -c 'import jsonargparse, docstring_parser, typeshed_client' 2>/dev/null; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "check.sh: jsonargparse is missing and no .whl/ was carried: run benchmarks/gpu/prepare.sh here and carry .whl" >&2
        exit 2
    fi
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 2
    export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv 2>&1 | tee "$out/gpu-check.log"
python3 benchmarks/gpu/check.py --out "$out" "$@" 2>&1 | tee -a "$out/gpu-check.log"
exit "${PIPESTATUS[0]}"
