"""The GPU check (issue #26): one prepared command that proves regae correct on a CUDA device and times it.

``prepare.sh`` runs on the CPU machine (wheels the GPU machine lacks, size of what travels);
``check.sh`` runs on the GPU machine and calls ``check.py``, which runs the stages of
:mod:`.correct`, :mod:`.speed` and :mod:`.fits` under one deadline (:mod:`.budget`) and writes
``gpu-check.json`` and ``gpu-check.md`` after every stage (:mod:`.results`). benchmarks/README.md,
"GPU", says how to run it; ``python benchmarks/gpu/check.py --device cpu --quick`` is the dry run
that ``tests/benchmarks/test_gpu_check.py`` keeps working.
"""
