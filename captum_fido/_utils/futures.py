r"""Captum's asynchronous entry point for methods that optimise iteratively."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["SynchronousFutureMixin"]


class SynchronousFutureMixin:
    r"""``attribute_future`` as Captum's attribution methods offer it, for a
    method whose ``attribute`` is an iterative optimisation.

    Captum's ``attribute_future`` returns a :class:`torch.futures.Future` of
    the attributions. An optimisation needs each step's result before the
    next, so there is nothing to overlap: the attributions are computed now,
    by ``attribute`` with the same arguments, and handed back as a completed
    future. Bad arguments raise at once, as from ``attribute``.
    """

    def attribute_future(self, *args: Any, **kwargs: Any) -> torch.futures.Future:
        r"""``attribute(*args, **kwargs)``, computed now, as a completed future.

        Args:
            *args: The positional arguments of ``attribute``.
            **kwargs: Its keyword arguments.

        Returns:
            torch.futures.Future: Done; ``.wait()`` returns what ``attribute``
            returns.

        Examples::

            >>> future = FIDO(model, BlurInfiller()).attribute_future(x, target=3)
            >>> attributions = future.wait()
        """
        result = self.attribute(*args, **kwargs)  # type: ignore[attr-defined]
        future: torch.futures.Future = torch.futures.Future()
        future.set_result(result)
        return future
