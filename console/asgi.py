"""ASGI entry point: Django for HTTP, Channels for the WebSockets (live tail, job progress)."""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
# A server process keeps a small pool of PostgreSQL connections (no effect on SQLite).
os.environ.setdefault("CONSOLE_DB_POOL_SIZE", "4")
if os.environ.get("CONSOLE_ASGI_HANDLER", "one-hop") == "django":
    django_asgi_app = get_asgi_application()  # Django's own: the reference in bench/
else:
    import django

    django.setup(set_prefix=False)
    from console.asgi_handler import OneHopASGIHandler

    django_asgi_app = OneHopASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402 - after Django is set up
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from console.routing import guarded, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The guard first: a path with control characters is closed before any session
        # lookup; a path no route matches is closed by the routes' own fallback.
        "websocket": guarded(
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)

# Everything loaded so far (Django, the apps, templates' libraries) lives as long as the
# process: out of the collector's sight, full collections stop walking it on every pass
# (about 2 ms of server CPU per page view saved on the messages page).
gc.freeze()

# The collector's first generation runs after 20,000 new container objects, not Python's
# 700: a web process makes and drops them by the thousand a second (requests, WebSocket
# frames, asyncio handles), and each pass paused the event loop. bench/tail, 1,000 viewers
# over 4 processes at 200 msg/s, per process: ~870 collections and 4.2 s of pauses (some of
# 0.1-0.5 s on the shared cores) with 700; 13 and 0.25 s with 20,000. Runs alternating the
# two: p99 0.300-0.346 s with 700, 0.223-0.350 s with 20,000 (0.253, 0.223, 0.238, 0.350),
# server CPU 8.2-8.5 s against 7.4-8.1 s; RSS the same (131 MB). Pages: no difference beyond
# noise. CONSOLE_GC_THRESHOLD: the three thresholds.
gc.set_threshold(
    *(int(x) for x in os.environ.get("CONSOLE_GC_THRESHOLD", "20000,10,10").split(","))
)

# Threads wanting the GIL get it after this long (Python's default: 5 ms): the event loop,
# which answers shared pages itself, waits less behind page renderings (bench/load.py: with
# 1 ms, 1.2-1.3x the page views of 5 ms).
sys.setswitchinterval(float(os.environ.get("CONSOLE_GIL_SWITCH_MS", "1")) / 1000)
