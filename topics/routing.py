"""WebSocket routes of the topics app (the live tail)."""

websocket_urlpatterns: list = []
