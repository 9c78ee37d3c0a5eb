r"""The only module that touches ``captum._utils`` (private, changes between
releases). The supported captum range is pinned in ``setup.cfg``."""

from captum._utils.common import (  # noqa: F401
    _format_additional_forward_args as format_additional_forward_args,
)
from captum._utils.common import (
    _format_output as format_output,
)
from captum._utils.common import (
    _format_tensor_into_tuples as format_tensor_into_tuples,
)
from captum._utils.common import (
    _is_tuple as is_tuple,
)
from captum._utils.typing import TargetType, TensorOrTupleOfTensorsGeneric  # noqa: F401

__all__ = [
    "format_additional_forward_args",
    "format_output",
    "format_tensor_into_tuples",
    "is_tuple",
    "TargetType",
    "TensorOrTupleOfTensorsGeneric",
]
