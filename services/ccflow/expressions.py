"""Conditions in CEL (the `common-expression-language` package, a Rust core): compile, check, evaluate.

The package has no static type checker, so `check` compiles the expression, rejects names
that are not journey variables, and evaluates it once against a probe context holding a
value of every variable's declared type: a type error (e.g. `priority + "x"`) or a result of
the wrong type (a condition that is not a bool) is reported there, before anything runs.
A missing key in an open map (`customer.tier` when the probe's customer is empty) is fine:
`has(customer.tier)` guards it at run time.

Variables: region, channel, brand, language (strings), customer, history, attributes (maps),
priority (int), intent (string), sentiment (double, -1..1), input (last input, string),
clock (map: hour, minute, weekday "mon".."sun", date "YYYY-MM-DD", in the flow's time zone),
business_hours (bool: inside the flow's business hours now), consent (map of purpose -> bool:
recording, transcription, ai_analysis, marketing; every purpose present, false unless given).
"""

from __future__ import annotations

from typing import Any

import cel

from ccpolicy.vocabulary import PURPOSES

VARIABLES: dict[str, Any] = {
    "region": "",
    "channel": "",
    "brand": "",
    "language": "",
    "customer": {},
    "history": {},
    "attributes": {},
    "priority": 0,
    "intent": "",
    "sentiment": 0.0,
    "input": "",
    "clock": {"hour": 0, "minute": 0, "weekday": "mon", "date": "2026-01-05"},
    "business_hours": False,
    "consent": {p: False for p in PURPOSES},
}

_TYPE_NAMES = {bool: "bool", int: "int", float: "double", str: "string", dict: "map", list: "list"}


class ExpressionError(ValueError):
    """The expression does not compile, names an unknown variable or has the wrong type."""


_compiled: dict[str, cel.Program] = {}


def compile_expression(source: str) -> cel.Program:
    program = _compiled.get(source)
    if program is None:
        try:
            program = cel.compile(source)
        except (ValueError, RuntimeError) as error:
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ExpressionError(f"CEL expression {source!r} does not compile: {first_line}") from None
        _compiled[source] = program
    return program


def _type_name(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), type(value).__name__)


def check(source: str, expected: type | tuple[type, ...]) -> None:
    """Raise ExpressionError unless `source` compiles and yields `expected` on the probe context."""
    program = compile_expression(source)
    try:
        result = program.execute(dict(VARIABLES))
    except KeyError:
        return  # a key absent from an open map: legitimate, guarded by has() at run time
    except TypeError as error:
        reason = str(error).split(". ")[0]
        raise ExpressionError(f"CEL expression {source!r} has the wrong type: {reason}") from None
    except (RuntimeError, ValueError) as error:
        text = str(error)
        if "Undefined variable" in text:
            name = text.split("'")[1] if "'" in text else text
            raise ExpressionError(
                f"CEL expression {source!r} uses unknown name {name!r}; variables: {sorted(VARIABLES)}"
            ) from None
        raise ExpressionError(f"CEL expression {source!r} fails: {text.splitlines()[0]}") from None
    wanted = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python; a condition must be a real bool and a number must not be one.
    ok = isinstance(result, wanted) and not (bool not in wanted and isinstance(result, bool))
    if not ok:
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in wanted)
        raise ExpressionError(
            f"CEL expression {source!r} has the wrong type: it yields {_type_name(result)}, expected {names}"
        )


def evaluate(source: str, variables: dict[str, Any]) -> Any:
    """Evaluate a checked expression; raises ExpressionError when it fails at run time."""
    try:
        return compile_expression(source).execute(variables)
    except (KeyError, TypeError, RuntimeError, ValueError) as error:
        raise ExpressionError(f"CEL expression {source!r} failed: {error!r}") from None
