"""WebSocket routes of every app, gathered for console.asgi, behind one guard.

Channels' URLRouter raises ValueError for a path no route matches (the server answers 500): the
last route catches every such path and closes the connection. ``guarded`` closes one whose
path or query holds control characters or invalid UTF-8 before any route sees it, and
keeps the server's own send in the scope (TRANSPORT_SEND) for the live tail's frames.
"""

from __future__ import annotations

import logging

from django.urls import re_path

from console.middleware import TRANSPORT_SEND, scope_problem
from topics.tail.routing import websocket_urlpatterns as topic_routes

log = logging.getLogger(__name__)


async def refuse(scope, receive, send) -> None:
    """Close the WebSocket during its handshake (the client sees the upgrade refused, 403)."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.close", "code": 4400})


async def no_route(scope, receive, send) -> None:
    log.info("WebSocket refused: no route for %r", scope.get("path", "")[:200])
    await refuse(scope, receive, send)


websocket_urlpatterns = [
    *topic_routes,
    re_path(r"", no_route),  # last: every path no route above matched
]


def guarded(application):
    """`application` for WebSockets whose path and query are clean (as HTTP's
    BadInputMiddleware checks them); any other connection is closed before routing."""

    async def guard(scope, receive, send):
        problem = scope_problem(scope)
        if problem:
            log.info("WebSocket refused on %r: %s", scope.get("path", "")[:200], problem)
            return await refuse(scope, receive, send)
        return await application({**scope, TRANSPORT_SEND: send}, receive, send)

    return guard
