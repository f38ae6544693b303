#!/usr/bin/env bash
# Prepare the GPU check on this (CPU) machine, before the device call (issue #26).
#
# 1. Downloads into .whl/ the wheels the GPU machine lacks for regae's core: jsonargparse with its
#    `signatures` extra (docstring-parser, typeshed-client; typeshed-client needs typing-extensions,
#    and jsonargparse PyYAML, both already there). Pure-Python wheels, for Python 3.12. Nothing for
#    the demo (gradio) or Slurm (submitit): the check uses neither.
# 2. Adds up what travels to the device (tracked files, untracked files git does not ignore, and the
#    carried .whl/) and fails if it is over the 64 MiB limit.
#
# Idempotent: wheels already in .whl/ are kept, others of the same name are replaced.
#
#     bash benchmarks/gpu/prepare.sh            # then, on the device, with .whl carried:
#     bash benchmarks/gpu/check.sh
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
LIMIT_MIB=64
# name==version of each wheel; versions the checks here ran with
WHEELS=(jsonargparse==4.53.0 docstring-parser==0.18.0 typeshed-client==2.15.0)

mkdir -p .whl
grep -qxF '/.whl/' .git/info/exclude 2>/dev/null || { mkdir -p .git/info; echo '/.whl/' >> .git/info/exclude; }

for spec in "${WHEELS[@]}"; do
    name=${spec%%==*}; version=${spec##*==}
    file_prefix=${name//-/_}
    if ls ".whl/${file_prefix}-${version}-"*.whl >/dev/null 2>&1; then
        echo "prepare: have $spec"
        continue
    fi
    rm -f ".whl/${file_prefix}-"*.whl  # one version of each: two stop the whole install there
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "$spec"
    echo "prepare: downloaded $spec"
done

# What each wheel needs besides what the GPU machine has (KINDS.md's package list): print it, for review.
for whl in .whl/*.whl; do
    needs=$(unzip -p "$whl" '*/METADATA' | grep '^Requires-Dist' | grep -v 'extra ==' | sed 's/^Requires-Dist: //' || true)
    echo "prepare: $(basename "$whl") requires: ${needs:-nothing}" | tr '\n' ' '; echo
done

# What travels: tracked files (as they are in the working tree), untracked files git does not ignore, .whl/.
total=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } | sort -zu \
         | { xargs -0 -r stat -c %s -- 2>/dev/null || true; } | awk '{s += $1} END {print s + 0}')
wheels=$(find .whl -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
sum=$((total + wheels))
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
echo "prepare: the working tree that travels: $(mib "$total") MiB; .whl/: $(mib "$wheels") MiB; in all $(mib "$sum") MiB (limit ${LIMIT_MIB} MiB)"
if [ "$sum" -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "prepare: over the ${LIMIT_MIB} MiB limit: ignore or remove untracked files first (git status --short)" >&2
    { git ls-files -z --others --exclude-standard | xargs -0 -r du -b -- 2>/dev/null | sort -rn | head -5 || true; } >&2
    exit 1
fi
echo "prepare: ready. On the device: bash benchmarks/gpu/check.sh   (carry: .whl)"
