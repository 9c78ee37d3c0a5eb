r"""Kept for the scripts that still import it (``explain_throughput.py``):
result writing lives in :mod:`_runner` with the other shared helpers."""

from __future__ import annotations

from _runner import write_run

__all__ = ["write_run"]
