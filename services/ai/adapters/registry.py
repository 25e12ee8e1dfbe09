"""Discover components through Python entry points (group `contactcenter.ai.components`).

Any installed distribution can add components: the platform's own are registered in its
pyproject.toml, a third party's in theirs. A component that fails to import is reported in
`broken` (with the reason) instead of stopping the service; a name registered twice keeps
the first and reports the other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import entry_points

from ai.domain.component import ENTRY_POINT_GROUP, ComponentFactory, ComponentSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    name: str
    distribution: str
    factory: ComponentFactory

    @property
    def spec(self) -> ComponentSpec | None:
        spec = getattr(self.factory, "spec", None)
        return spec if isinstance(spec, ComponentSpec) else None


class ComponentRegistry:
    def __init__(self, registered: dict[str, Registered], broken: dict[str, str] | None = None) -> None:
        self.registered = registered
        self.broken = broken or {}

    @property
    def factories(self) -> dict[str, ComponentFactory]:
        return {name: r.factory for name, r in self.registered.items()}

    @classmethod
    def discover(cls, group: str = ENTRY_POINT_GROUP) -> ComponentRegistry:
        registered: dict[str, Registered] = {}
        broken: dict[str, str] = {}
        for point in entry_points(group=group):
            distribution = point.dist.name if point.dist is not None else "unknown"
            if point.name in registered:
                broken[f"{point.name} ({distribution})"] = (
                    f"name already registered by {registered[point.name].distribution}"
                )
                continue
            try:
                factory = point.load()
            except Exception as error:  # a broken plug-in must not stop the service
                log.warning("AI component %s from %s failed to load: %r", point.name, distribution, error)
                broken[point.name] = f"{type(error).__name__}: {error}"
                continue
            if not callable(factory):
                broken[point.name] = f"{point.value} is not callable"
                continue
            registered[point.name] = Registered(point.name, distribution, factory)
        return cls(registered, broken)
