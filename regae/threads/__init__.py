"""CPU threads: the one owner of regae's thread policy.

* :mod:`regae.threads.policy` — OpenMP's wait policy, chosen before torch loads (every entry
  point: ``regae``, ``python -m launch``, ``python -m demo`` calls ``configure_threads`` first);
* :mod:`regae.threads.cpu_use` — how much of the cores other processes use (``/proc/stat``);
* :mod:`regae.threads.count` — torch's thread count: the only place regae sets it;
* :mod:`regae.threads.job` — the environment every task of a cluster job starts with.

This package imports nothing at import time (torch must not load before the policy is set).
"""
