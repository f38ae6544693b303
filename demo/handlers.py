"""What every event handler of the page shares: a failure becomes a one-line toast, and the server keeps running."""

from __future__ import annotations

import functools
import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: set before gradio is imported
import gradio as gr  # noqa: E402

from regae.errors import RegaeError  # noqa: E402

log = logging.getLogger("demo")


def friendly(fn):
    """Run a handler; any failure becomes a short ``gr.Error`` message instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args):
        try:
            return fn(*args)
        except gr.Error:
            raise
        except RegaeError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug: keep its traceback in the server log only
            log.exception("demo handler %s failed", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(exc).__name__}); the app is still running, "
                           "please try again.", print_exception=False) from None

    return wrapper
