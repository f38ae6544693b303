"""Configurations: the packaged presets (``regae/configs/*.yaml``) and the checks a command line
gets before Lightning loads. Torch-free.

* :mod:`~regae.configs.packaged` — ``regae fit --config NAME``: the preset files and their one-line descriptions;
* :mod:`~regae.configs.preflight` — option names, config files and YAML checked without Lightning.
"""

from regae.configs.packaged import PRESET_DIR, preset_path, preset_summary, presets, resolve_presets

__all__ = ["PRESET_DIR", "preset_path", "preset_summary", "presets", "resolve_presets"]
