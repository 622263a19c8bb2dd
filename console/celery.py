"""The Celery app. Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a
SQLite file, so the demo needs no service but Kafka and still runs a real worker process."""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

# `sqla+sqlite:///...` brokers use our fixed transport (see console/celery_transport.py).
TRANSPORT_ALIASES["sqla"] = TRANSPORT_ALIASES["sqlalchemy"] = "console.celery_transport:Transport"

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Feature folders keep their tasks beside their services.
app.autodiscover_tasks(["topics.produce", "topics.replay"])
