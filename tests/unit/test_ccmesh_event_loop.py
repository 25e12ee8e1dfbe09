"""The loop a service runs on is the one its config names."""

from __future__ import annotations

import asyncio

import pytest

from ccmesh import event_loop


async def loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.parametrize(("name", "module"), [("uvloop", "uvloop"), ("asyncio", "asyncio")])
def test_each_name_runs_the_coroutine_on_its_own_loop(name: event_loop.EventLoopName, module: str) -> None:
    assert event_loop.run(loop_module(), name).split(".")[0] == module


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'trio'"):
        event_loop.loop_factory("trio")  # type: ignore[arg-type]
