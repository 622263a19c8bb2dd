"""The Celery app. Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a
SQLite file, so the demo needs no service but Kafka and still runs a real worker process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")

app = Celery("console")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
