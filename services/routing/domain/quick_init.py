"""A quicker `__init__` for the frozen, slotted dataclasses built on every routing decision.

A frozen dataclass's generated `__init__` sets each field with `object.__setattr__(self,
name, value)`: a generic attribute write that looks the name up on the type every time. The
routing bench's decision builds several such records (the decision and its candidate, two
ledgers, two agent views, a hold), and those writes were a fifth of its time. `quick_init`
gives a class an `__init__` with the same signature and defaults that writes each slot through
the slot's own descriptor, bound once, which costs about half as much. The class stays what
`dataclass` made it: frozen (assigning a field still raises), the same fields, equality, hash,
repr and `dataclasses.replace`; `__post_init__`, when the class has one, runs last as before.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

_T = TypeVar("_T")


def quick_init(cls: type[_T]) -> type[_T]:
    """Replace the generated `__init__` of a frozen, slotted dataclass (apply above `@dataclass`).

    Only fields set by `__init__` with a plain default or none are supported (no
    `default_factory`, no keyword-only fields, no `init=False` field with a default): anything
    else is refused here, when the class is defined, rather than built differently.
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" not in cls.__dict__:
        raise TypeError(f"quick_init needs a slotted dataclass, not {cls.__qualname__}")
    namespace: dict[str, Any] = {}
    parameters: list[str] = []
    body: list[str] = []
    for position, f in enumerate(dataclasses.fields(cls)):
        name = f"{cls.__qualname__}.{f.name}"
        if not f.init:
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
                raise TypeError(f"quick_init: {name} is not set by __init__ but has a default")
            continue  # set by `__post_init__` (or a field left unset until then, as dataclass does)
        if f.default_factory is not dataclasses.MISSING or f.kw_only:
            raise TypeError(f"quick_init: {name} has a default factory or is keyword-only")
        setter = f"_set{position}"
        namespace[setter] = cls.__dict__[f.name].__set__
        if f.default is dataclasses.MISSING:
            parameters.append(f.name)
        else:
            namespace[f"_default{position}"] = f.default
            parameters.append(f"{f.name}=_default{position}")
        body.append(f"    {setter}(self, {f.name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    source = f"def __init__(self, {', '.join(parameters)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # noqa: S102 - built from the class's own field names, as dataclass does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
