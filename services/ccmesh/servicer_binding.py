"""Bind a generated gRPC servicer to its methods, from the proto service descriptor.

The descriptor gives each method's name and message types, so any generated servicer can
be served over NATS without hand-written glue per method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

Handler = Callable[[Any, Any], Awaitable[Message]]


@dataclass(frozen=True)
class MethodBinding:
    name: str
    #: gRPC path, e.g. `/contactcenter.identity.v1.IdentityService/ResolveCustomer`.
    path: str
    request_type: type[Message]
    response_type: type[Message]
    handler: Handler


@dataclass(frozen=True)
class ServiceBinding:
    #: Mesh service token, e.g. `identity` for package `contactcenter.identity.v1`.
    service: str
    full_name: str
    methods: dict[str, MethodBinding]


def service_token(descriptor: ServiceDescriptor) -> str:
    """`contactcenter.identity.v1` -> `identity`: one mesh service per proto package."""
    parts = descriptor.file.package.split(".")
    if len(parts) != 3 or parts[2] != "v1":
        raise ValueError(f"proto package {descriptor.file.package!r} is not of the form <root>.<service>.v1")
    return parts[1]


def bind_servicer(servicer: object, descriptor: ServiceDescriptor) -> ServiceBinding:
    methods: dict[str, MethodBinding] = {}
    for method in descriptor.methods:
        if method.client_streaming or method.server_streaming:
            raise ValueError(
                f"{descriptor.full_name}/{method.name}: streaming RPCs are not carried over the mesh"
            )
        handler = getattr(servicer, method.name, None)
        if handler is None:
            raise ValueError(f"{type(servicer).__name__} has no method {method.name}")
        methods[method.name] = MethodBinding(
            name=method.name,
            path=f"/{descriptor.full_name}/{method.name}",
            request_type=GetMessageClass(method.input_type),
            response_type=GetMessageClass(method.output_type),
            handler=handler,
        )
    return ServiceBinding(service=service_token(descriptor), full_name=descriptor.full_name, methods=methods)
