"""Ending a short-lived process that used a Temporal client."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_hard(code: int) -> NoReturn:
    """Flush, then leave without interpreter finalization.

    Temporal's Rust runtime keeps native threads that can abort or crash the interpreter while it finalizes
    ("PyGILState_Release: thread state … must be current", or SIGSEGV; temporalio/sdk-python#300), turning a
    successful command into a failed one. Everything is flushed first, so nothing the process printed is lost.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
