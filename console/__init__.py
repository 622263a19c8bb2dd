"""Kafka console: project package (settings, ASGI, Celery app, cluster pages)."""

from console.celery import app as celery_app

__all__ = ("celery_app",)
