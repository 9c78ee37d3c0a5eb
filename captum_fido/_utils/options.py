r"""Options declared once: the kit behind :class:`~captum_fido.attr.MaskOptions`
(FIDO, BBMP) and :class:`~captum_fido.counterfactual.SearchOptions`.

An options class is a frozen dataclass whose fields come from :func:`option`:
each carries its default, its check (``check(value, name)`` returns the
normalised value or raises ``TypeError`` / ``ValueError`` naming the option),
its documentation, and optionally its docstring type (``kind``) and the one
method or entry point that alone takes it (``applies_to``; empty: all).

- :func:`check_options` runs every field's check; call it from
  ``__post_init__``, so an invalid value fails on creation, before any work.
- :func:`option_names` lists the options, or those one method takes.
- :func:`document_options` writes the options' ``Args`` entries where a
  docstring has a line ``{options}``, at that line's indentation, so a
  default, a description or a rule is written in one place only.

Examples::

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Options:
    ...     '''Args:
    ...         {options}
    ...     '''
    ...     steps: int = option(10, lambda v, n: int(v), "Adam steps.", kind="int")
    ...     def __post_init__(self) -> None:
    ...         check_options(self)
    >>> Options = document_options(Options, show_default=True)(Options)
    >>> print(Options.__doc__.splitlines()[1].strip())
    steps (int, optional): Adam steps. Default: ``10``.
"""

from __future__ import annotations

import dataclasses
import numbers
import textwrap
from typing import Any, Callable, Optional, Sequence, Tuple, TypeVar

__all__ = [
    "Check",
    "option",
    "optional",
    "check_flag",
    "check_options",
    "option_names",
    "options_doc",
    "document_options",
    "fill_doc_line",
]

#: ``check(value, name)``: the normalised value, or ``TypeError`` /
#: ``ValueError`` naming the option.
Check = Callable[[Any, str], Any]
_T = TypeVar("_T")

#: Width of the generated ``Args`` lines (the project's line length).
WIDTH = 88


def option(
    default: Any, check: Check, doc: str, *, kind: str = "", applies_to: str = ""
) -> Any:
    r"""A dataclass field with its default, its check and its documentation.

    Args:
        default (Any): The default value.
        check (callable): ``check(value, name)`` returns the normalised value
            or raises.
        doc (str): The option's documentation (reStructuredText).
        kind (str, optional): Its type in the docstring, e.g. ``"int"``.
            Default ``""``: the entry shows no type.
        applies_to (str, optional): The one method or entry point that alone
            takes the option. Default ``""``: all of them.

    Returns:
        A ``dataclasses.field`` for the class body.

    Examples::

        >>> f = option(3, check_flag, "A flag.")
        >>> f.default
        3
    """
    metadata = {"check": check, "doc": doc, "kind": kind, "applies_to": applies_to}
    return dataclasses.field(default=default, metadata=metadata)


def optional(check: Check) -> Check:
    r"""``check``, letting ``None`` through unchanged.

    Args:
        check (callable): The check of a value that is not ``None``.

    Returns:
        The check of an optional value.

    Examples::

        >>> optional(check_flag)(None, "x") is None
        True
    """

    def optional_check(value: Any, name: str) -> Any:
        return None if value is None else check(value, name)

    return optional_check


def check_flag(value: Any, name: str) -> bool:
    r"""A ``bool``; integers pass (``0`` / ``1`` from a config).

    Args:
        value (Any): The value given.
        name (str): The option's name, for the error.

    Returns:
        ``bool(value)``.

    Examples::

        >>> check_flag(1, "hard")
        True
    """
    if not isinstance(value, (bool, numbers.Integral)):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return bool(value)


def check_options(options: Any) -> None:
    r"""Run every field's check on a frozen options instance and store the
    normalised values (call it from ``__post_init__``).

    Args:
        options (dataclass instance): Fields made by :func:`option`.

    Examples::

        >>> check_options(options)  # doctest: +SKIP
    """
    for f in dataclasses.fields(options):
        value = f.metadata["check"](getattr(options, f.name), f.name)
        # Frozen: the normalised value goes in through object.__setattr__.
        object.__setattr__(options, f.name, value)


def option_names(cls: Any, applies_to: Optional[str] = None) -> Tuple[str, ...]:
    r"""The options of ``cls`` in declaration order; with ``applies_to``, those
    that method takes (the shared ones and its own).

    Args:
        cls (dataclass): An options class.
        applies_to (str, optional): A method or entry point. Default ``None``:
            every option.

    Returns:
        tuple of str.

    Examples::

        >>> from captum_fido.attr import MaskOptions
        >>> "hard" in option_names(MaskOptions, "BBMP")
        False
    """
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if applies_to is None or f.metadata["applies_to"] in ("", applies_to)
    )


def options_doc(
    cls: Any,
    indent: int,
    names: Optional[Sequence[str]] = None,
    *,
    show_default: bool = False,
    show_scope: bool = True,
) -> str:
    r"""The ``Args`` entries of options of ``cls``, one wrapped paragraph each:
    ``name (kind, optional): doc`` followed, when asked, by ``Default:
    ``value``.`` and by ``METHOD only.`` for an option of one method.

    Args:
        cls (dataclass): An options class.
        indent (int): Spaces before each entry (continuation lines get 4 more).
        names (sequence of str, optional): The options to document, in this
            order. Default ``None``: all, in declaration order.
        show_default (bool, optional): Say each default (where it does not
            depend on the method). Default False.
        show_scope (bool, optional): Say which method alone takes an option.
            Default True.

    Returns:
        str, the entries joined by newlines.

    Examples::

        >>> from captum_fido.attr import MaskOptions
        >>> options_doc(MaskOptions, 0, ["seed"]).startswith("seed (optional):")
        True
    """
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    lines = []
    for name in option_names(cls) if names is None else names:
        f = by_name[name]
        kind = f.metadata["kind"]
        text = f"{name} ({kind + ', ' if kind else ''}optional): {f.metadata['doc']}"
        if show_scope and f.metadata["applies_to"]:
            text += f" {f.metadata['applies_to']} only."
        if show_default:
            text += f" Default: ``{f.default!r}``."
        # No breaks after hyphens: "cool-\ndown" would read "cool- down".
        lines += textwrap.wrap(
            text,
            width=WIDTH,
            initial_indent=" " * indent,
            subsequent_indent=" " * (indent + 4),
            break_on_hyphens=False,
        )
    return "\n".join(lines)


def document_options(
    cls: Any,
    names: Optional[Sequence[str]] = None,
    *,
    show_default: bool = False,
    show_scope: bool = True,
) -> Callable[[_T], _T]:
    r"""A decorator that replaces the line ``{options}`` of a function's or a
    class's docstring with :func:`options_doc`'s entries, at that line's
    indentation.

    Args:
        cls (dataclass): The options class.
        names (sequence of str, optional): The options to document. Default
            ``None``: all.
        show_default (bool, optional): As in :func:`options_doc`.
        show_scope (bool, optional): As in :func:`options_doc`.

    Returns:
        The decorator (it returns the object it decorates).

    Examples::

        >>> from captum_fido.attr import MaskOptions
        >>> def run(**options):
        ...     '''Args:
        ...         {options}
        ...     '''
        >>> run = document_options(MaskOptions, ["seed"])(run)
        >>> run.__doc__.splitlines()[1].split(":")[0].strip()
        'seed (optional)'
    """

    def entries(indent: int) -> str:
        return options_doc(
            cls, indent, names, show_default=show_default, show_scope=show_scope
        )

    def decorate(obj: _T) -> _T:
        return fill_doc_line(obj, "{options}", entries)

    return decorate


def fill_doc_line(obj: _T, placeholder: str, text: Callable[[int], str]) -> _T:
    r"""Replace each line of ``obj``'s docstring that holds only
    ``placeholder`` with ``text(indent)``, ``indent`` being that line's
    indentation, so a text shared by several docstrings is written once.

    Args:
        obj (function or class): Whose docstring to fill (none: unchanged).
        placeholder (str): The line's whole content, e.g. ``"{options}"``.
        text (callable): ``text(indent) -> str``, already indented.

    Returns:
        ``obj``, its docstring filled.

    Examples::

        >>> def f():
        ...     '''Args:
        ...         {shared}
        ...     '''
        >>> f = fill_doc_line(f, "{shared}", lambda n: " " * n + "x: an x.")
        >>> f.__doc__.splitlines()[1].strip()
        'x: an x.'
    """
    doc = obj.__doc__
    if doc is None:
        return obj
    lines = [
        text(len(line) - len(line.lstrip())) if line.strip() == placeholder else line
        for line in doc.split("\n")
    ]
    obj.__doc__ = "\n".join(lines)
    return obj
