"""Views for tests/console/test_asgi_handler.py: a slow one, a fast one, a stream, a fault."""

import asyncio
import itertools
import threading
import time

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

CLOSED: list[str] = []


def on_own_loop(coro):
    """asyncio.run(coro) on a thread of its own: the session's Playwright keeps an event
    loop running in the main thread once a browser test has run."""
    out: dict = {}

    def run() -> None:
        try:
            out["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


@login_not_required
def slow(request):
    time.sleep(float(request.GET.get("s", "1")))
    return HttpResponse("slow")


@login_not_required
def fast(request):
    return HttpResponse("fast")


class _Stream:
    def __iter__(self):
        yield b"one,"
        yield b"two"

    def close(self):
        CLOSED.append("stream")


@login_not_required
def stream(request):
    return StreamingHttpResponse(_Stream(), content_type="text/csv")


@login_not_required
def cluster_slow(request, name):
    time.sleep(float(request.GET.get("s", "1")))
    return HttpResponse(name)


FIRST_SENT = threading.Event()


@login_not_required
def live(request):
    """First a chunk, then one only once the first reached the client; then on and on."""

    def chunks():
        yield b"first;"
        yield b"second;" if FIRST_SENT.wait(5) else b"buffered;"
        for i in itertools.count():  # until the client leaves
            time.sleep(0.01)
            yield b"%d;" % i

    return StreamingHttpResponse(chunks(), content_type="text/plain")


@login_not_required
def fault(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("slow/", slow),
    path("fast/", fast),
    path("stream/", stream),
    path("fault/", fault),
    path("live/", live),
    path("clusters/<str:name>/slow/", cluster_slow),
]
