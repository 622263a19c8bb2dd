"""WebSocket routes of every app, gathered for console.asgi."""

from topics.tail.routing import websocket_urlpatterns as topic_routes

websocket_urlpatterns = [*topic_routes]
