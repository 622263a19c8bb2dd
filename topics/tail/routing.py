"""WebSocket routes of the topics app (the live tail)."""

from django.urls import path

from topics.tail.consumers import TopicTailConsumer

websocket_urlpatterns = [
    path("ws/clusters/<str:cluster>/topics/<str:topic>/tail/", TopicTailConsumer.as_asgi()),
]
