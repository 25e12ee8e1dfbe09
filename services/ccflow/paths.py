"""Where a journey is heading: questions about the paths ahead of a node (pure)."""

from __future__ import annotations

from collections import deque

from ccflow.model import Flow, QueueNode
from ccflow.validate import successors


def queue_ahead(flow: Flow, start: str) -> str:
    """The queue the journey reaches first from `start` on its main path (`next` before
    `onFailure`, branches in order), or "" when no queue lies ahead.

    A step that asks about "the queue" (its depth, its wait) without naming one means this one:
    the queue the contact is on its way to.
    """
    nodes = {node.id: node for node in flow.spec.nodes}
    seen: set[str] = set()
    pending = deque([start])
    while pending:
        node_id = pending.popleft()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        node = nodes[node_id]
        if isinstance(node, QueueNode):
            return node.queue
        pending.extend(successors(node))
    return ""
