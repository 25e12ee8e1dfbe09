"""Errors that name the file, the node and the problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    node: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        node = f"node {self.node!r}: " if self.node else ""
        return f"{where}{node}{self.message}"


class FlowError(ValueError):
    """One or more problems in flow documents; `problems` lists each with its file and node."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def fail(file: str, node: str, message: str) -> FlowError:
    return FlowError([Problem(file, node, message)])
