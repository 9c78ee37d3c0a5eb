r"""Where a warning points: the user's line, not the package's.

``warnings.warn(..., stacklevel=k)`` needs the number of frames between the
warning and the user's call, which depends on the path through the package
(decorators, Captum's ``log_usage``, NoiseTunnel). :func:`caller_stacklevel`
counts them instead of hard-coding them.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["caller_stacklevel"]

#: Frames from this folder are the package's (Captum's are recognised by
#: their ``/captum/`` folder).
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def caller_stacklevel() -> int:
    r"""The ``stacklevel`` that makes a warning raised by the function calling
    this point at the first frame outside ``captum_fido`` and ``captum``.

    Returns:
        int, at least 2 (the caller of the function that warns).

    Examples::

        >>> def library_function():
        ...     warnings.warn("careful", UserWarning, stacklevel=caller_stacklevel())
    """
    frame = sys._getframe(1)  # the function that will warn: stacklevel 1
    level = 1
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_PACKAGE_DIR) and "/captum/" not in name:
            return max(2, level)
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 2
