"""kombu's SQLAlchemy transport, fixed to accept `polling_interval`.

kombu 5.7 passes every broker transport option to SQLAlchemy's create_engine, which
rejects `polling_interval`, yet the virtual transport reads the poll interval from the
same options. Without it the embedded (SQLite) broker polls once a second: a produce
request would wait up to 1 s before the worker sees it. This transport strips the kombu
options before creating the engine; `sqla+` URLs use it (registered in console.celery).
"""

from __future__ import annotations

from kombu.transport import sqlalchemy as sqla
from sqlalchemy import create_engine

KOMBU_ONLY = {
    "queue_tablename",
    "message_tablename",
    "callback",
    "errback",
    "max_retries",
    "interval_start",
    "interval_step",
    "interval_max",
    "retry_errors",
    "polling_interval",
}


class Channel(sqla.Channel):
    def _engine_from_config(self):
        conninfo = self.connection.client
        options = {k: v for k, v in conninfo.transport_options.items() if k not in KOMBU_ONLY}
        return create_engine(conninfo.hostname, **options)


class Transport(sqla.Transport):
    Channel = Channel
