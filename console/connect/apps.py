from django.apps import AppConfig


class ConnectConfig(AppConfig):
    """Kafka Connect pages: connectors, their tasks and operations (one app, for its templates)."""

    name = "console.connect"
    label = "connect"
    verbose_name = "Kafka Connect"
