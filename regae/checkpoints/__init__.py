"""Checkpoint files: reading them safely (structure checked once) and writing any file atomically.

* :mod:`regae.checkpoints.read` — ``read_checkpoint`` (weights-only unpickling, the structure
  checked once, one clear error per kind of bad file), ``load`` (the model), ``load_data`` (the
  data it was trained on);
* :mod:`regae.checkpoints.write` — the one atomic writer every checkpoint, JSON and report file
  goes through (torch-free apart from ``atomic_save``);
* :mod:`regae.checkpoints.slim` — weights-only copies (what docs/ and the demo ship).

Nothing is imported here, so writing a JSON file does not load the model code.
"""
