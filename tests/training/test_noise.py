"""The known third-party warnings are filtered by message *and* module, nothing more."""

import logging
import warnings
from pathlib import Path

import pytest

from regae.training.noise import LOG_LINES, WARNINGS, ignore_warnings, third_party_noise


def warn_from(module: str, message: str, category: type[Warning]) -> None:
    """Issue a warning attributed to ``module`` (warnings use the caller's ``__name__``)."""
    exec("import warnings\nwarnings.warn(message, category)", {"__name__": module, "message": message,
                                                                 "category": category})


@pytest.mark.parametrize("noise", WARNINGS, ids=lambda n: n.module)
def test_each_filter_hides_its_warning_only_from_its_module(noise):
    module = noise.module.replace("\\", "")
    message = {
        r"(?s).*(deprecated in v4\.|By default only one JsonargparseDeprecationWarning)":
            "\n    ``instantiate_classes`` was deprecated in v4.49.0 and will be removed in v5.0.0.",
        r".*LightningCLI.s args parameter is intended to run from within Python":
            "LightningCLI's args parameter is intended to run from within Python like if it were from the command line.",
    }.get(noise.message, noise.message.replace("\\", ""))
    category = noise.category if noise.category is not Warning else UserWarning
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ignore_warnings()
        warn_from(module, message, category)  # filtered
        warn_from("someone.else", message, category)  # same words from elsewhere: shown
        warn_from(module, "Your data has NaNs", category)  # other words from the same module: shown
    assert [(str(w.message), w.filename) for w in seen] == [(message, "<string>"), ("Your data has NaNs", "<string>")]


def test_pyproject_ignores_the_same_warnings():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    entries = pyproject["tool"]["pytest"]["ini_options"]["filterwarnings"]
    expected = [f"ignore:{n.message}:{n.category.__name__}:{n.module}" for n in WARNINGS]
    assert entries[1 : 1 + len(WARNINGS)] == expected
    assert entries[0] == r"error::Warning:regae(\.|$)"


def test_a_warning_from_regae_fails_the_test_run():
    """pyproject's `error::Warning:regae(\\.|$)`: regae's own warnings are errors in tests."""
    with pytest.raises(UserWarning, match="from regae"):
        warn_from("regae.some_module", "from regae", UserWarning)
    with pytest.warns(UserWarning):  # only regae's modules, not a package whose name starts alike
        warn_from("regaexyz", "from elsewhere", UserWarning)


def test_info_lines_dropped_and_kept():
    kept: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record.getMessage())

    lines = {
        "lightning.fabric.utilities.seed": ["Seed set to 0"],
        "lightning.pytorch.utilities.rank_zero": [
            "GPU available: False, used: False", "TPU available: False, using: 0 TPU cores",
            "💡 Tip: For seamless cloud logging ...", "GPU available: True (cuda), used: False",
            "`Trainer.fit` stopped: `max_steps=4` reached.",  # regae's epoch line says where it stopped
            "Loading `train_dataloader` to estimate number of stepping batches.",  # a cosine schedule sizing itself
            "`Trainer.fit` stopped: `max_epochs=20` reached.",
        ],
    }
    assert {name for name, _ in LOG_LINES} == set(lines)
    handlers = [(logging.getLogger(name), Keep()) for name in lines]
    for logger, handler in handlers:
        logger.addHandler(handler)
    try:
        with third_party_noise():
            for name, messages in lines.items():
                for m in messages:
                    logging.getLogger(name).warning(m)
        logging.getLogger("lightning.fabric.utilities.seed").warning("Seed set to 1")  # filters removed after
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
    assert kept == ["GPU available: True (cuda), used: False", "Seed set to 1"]
