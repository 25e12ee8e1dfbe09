"""Pipelines: components in a configured order, checked once when built, run per message.

Building fails with a `PipelineError` naming the step at fault: an unknown component, a
setting the component rejects, or a component that consumes what no earlier step produces.
Running never raises: a component that fails on one message is reported in
`Insights.extras["errors"]` and the rest of the pipeline still runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ai.domain.component import (
    Component,
    ComponentContext,
    ComponentError,
    ComponentFactory,
    Insights,
)

log = logging.getLogger(__name__)

#: What a pipeline runs when the region's config names none: the default set.
DEFAULT_STEPS: tuple[tuple[str, Mapping[str, str]], ...] = (
    ("language", {}),
    ("intent", {}),
    ("sentiment", {}),
    ("pii", {}),
    ("escalation", {}),
)
#: What a step consumes when it reads the conversation so far (earlier sentiments, repeat
#: contacts, the wait), not just the message.
HISTORY = "history"
#: What any pipeline has before its first step.
GIVEN = frozenset({"text", HISTORY})


class PipelineError(ValueError):
    """A pipeline cannot be built; the message names the pipeline, the step and the problem."""


@dataclass(frozen=True)
class Step:
    component: str
    settings: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Pipeline:
    name: str
    components: list[Component]
    #: What it was built from: a worker process builds the same pipeline from these.
    steps: tuple[Step, ...] = ()

    @property
    def component_names(self) -> list[str]:
        return [c.spec.name for c in self.components]

    @property
    def text_steps(self) -> int:
        """How many leading steps read only the message (and the tenant's models), not its
        conversation (`history`): what they find in a text holds for any contact that sends it."""
        for position, component in enumerate(self.components):
            if HISTORY in component.spec.consumes:
                return position
        return len(self.components)

    def run(self, insights: Insights, start: int = 0) -> Insights:
        """Run the steps from `start` on (the earlier ones' findings already in `insights`)."""
        for component in self.components[start:]:
            started = time.perf_counter()
            try:
                component.analyse(insights)
            except Exception as error:  # one component's bug must not drop the message
                # Only the error's type: its message or traceback could quote the customer's text.
                log.error("component %s failed on a message: %s", component.spec.name, type(error).__name__)
                previous = insights.extras.get("errors", "")
                note = f"{component.spec.name}: {type(error).__name__}"
                insights.extras["errors"] = f"{previous}; {note}" if previous else note
            finally:
                insights.stage_seconds[component.spec.name] = time.perf_counter() - started
        return insights


def build_pipeline(
    name: str,
    steps: Sequence[Step],
    factories: Mapping[str, ComponentFactory],
    context: ComponentContext,
) -> Pipeline:
    if not steps:
        raise PipelineError(f"pipeline {name!r} has no components")
    available = set(GIVEN)
    components: list[Component] = []
    for position, step in enumerate(steps, start=1):
        where = f"pipeline {name!r} step {position} ({step.component!r})"
        factory = factories.get(step.component)
        if factory is None:
            raise PipelineError(
                f"{where}: unknown component; installed components: {sorted(factories) or 'none'}"
            )
        try:
            component = factory(dict(step.settings), context)
        except ComponentError as error:
            raise PipelineError(f"{where}: {error}") from None
        missing = sorted(component.spec.consumes - available)
        if missing:
            raise PipelineError(
                f"{where}: consumes {missing}, which no earlier step produces "
                f"(available: {sorted(available)})"
            )
        available |= component.spec.produces
        components.append(component)
    return Pipeline(name, components, tuple(steps))
