"""Django's HTTP side under ASGI with one thread hop per request instead of a dozen.

Django's own ASGIHandler runs the middleware chain in async mode. Its middleware
(sessions, CSRF, auth, messages...) are sync code behind ``MiddlewareMixin``, so each
``process_request`` and ``process_response`` crosses from the event loop to a thread and
back, and a sync-only middleware in the chain adds an async_to_sync round trip on top;
the request_started and request_finished signals and ``response.close()`` hop too. On
this console's pages that was 3-5 ms of a 2-core machine's CPU per request.

This handler keeps everything that must stay on the event loop there (reading the body,
sending the answer, streaming) and runs the rest (request_started, the whole middleware
chain in sync mode, the view, ``response.close()``) in one call on a worker thread, as a
WSGI server would: on a pool of ``CONSOLE_HTTP_THREADS`` threads (default 64), so a slow
Kafka read in one request never holds up another (Django's handler starts a new thread for
every request).

Bulkheads: at most ``CONSOLE_HTTP_CONCURRENCY`` requests (default 8) of one cluster (the
``/clusters/<name>/`` of the path; the rest of the console counts as one more) run at a
time; the others wait on the event loop, holding no thread. With the GIL, threads that all
want the CPU only take turns at it, and each turn costs: 8 at a time served 1.6x the page
views of 64 (bench/load.py). And a cluster that hangs holds at most its own 8 threads; the
other clusters' pages never wait for it.

A streaming answer (a download of a search's matches) is sent as it is made: its iterator
runs on the request's thread and each chunk waits until the server took the previous one,
so a large download is never held in memory whole (Django's handler reads a sync iterator
to its end before sending a byte) and a client that left stops the reading.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import FileResponse
from django.urls import set_script_prefix

from console import shared_pages


class OneHopASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super(ASGIHandler, self).__init__()  # BaseHandler: no async middleware loading
        self.load_middleware(is_async=False)
        threads = int(os.environ.get("CONSOLE_HTTP_THREADS", "64"))
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.concurrency = max(1, int(os.environ.get("CONSOLE_HTTP_CONCURRENCY", "8")))
        self.bulkheads: dict[str, asyncio.Semaphore] = {}

    def bulkhead(self, path: str) -> asyncio.Semaphore:
        """The semaphore of the cluster `path` belongs to ("" for the rest)."""
        parts = path.split("/", 3)
        name = parts[2] if len(parts) > 3 and parts[1] == "clusters" else ""
        found = self.bulkheads.get(name)
        if found is None:
            if len(self.bulkheads) > 1000:  # made-up cluster names: they share one
                name = "?"
                found = self.bulkheads.get(name)
            if found is None:
                found = self.bulkheads[name] = asyncio.Semaphore(self.concurrency)
        return found

    async def handle(self, scope, receive, send) -> None:  # noqa: ANN001 - ASGI's types
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        door = shared_pages.through_door(scope)
        if door is not None:  # a page this viewer was just served, from its copy
            status, headers, body = door
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            body_file.close()
            return
        script_prefix = get_script_prefix(scope)

        def respond():  # noqa: ANN202 - on the request's thread
            shared_pages.start_note()
            set_script_prefix(script_prefix)
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, response = self.create_request(scope, body_file)
            if request is not None:
                response = self.get_response(request)
                response._handler_class = self.__class__
                if isinstance(response, FileResponse):
                    response.block_size = self.chunk_size
                shared_pages.open_door(response)
            if not response.streaming:
                response.content  # noqa: B018 - rendered here, not on the event loop
                response.close()  # request_finished: database connections back
            return response

        loop = asyncio.get_running_loop()
        async with self.bulkhead(scope.get("path", "")):
            response = await loop.run_in_executor(
                self.threads, contextvars.copy_context().run, respond
            )
        try:
            if response.streaming and not response.is_async:
                await self._stream(response, receive, send)
            elif response.streaming:
                async with ThreadSensitiveContext():
                    try:
                        await self.send_response(response, send)
                    finally:
                        await sync_to_async(response.close, thread_sensitive=True)()
            else:
                await self.send_response(response, send)
        except asyncio.CancelledError:
            pass  # the client went away
        finally:
            body_file.close()

    async def _stream(self, response, receive, send) -> None:  # noqa: ANN001
        """A sync iterator's chunks, each sent before the next is made."""
        loop = asyncio.get_running_loop()
        gone = asyncio.Event()

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        listener = asyncio.create_task(listen())

        def pump() -> None:
            try:
                for part in response.streaming_content:
                    for chunk, _last in self.chunk_bytes(part):
                        if gone.is_set():
                            return
                        message = {"type": "http.response.body", "body": chunk, "more_body": True}
                        asyncio.run_coroutine_threadsafe(send(message), loop).result()
            finally:
                response.close()

        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": _headers(response),
                }
            )
            await loop.run_in_executor(self.threads, contextvars.copy_context().run, pump)
            await send({"type": "http.response.body"})
        finally:
            listener.cancel()


def _headers(response) -> list[tuple[bytes, bytes]]:  # noqa: ANN001
    """The answer's headers and cookies, as Django's send_response writes them."""
    out = [
        (
            k.encode("ascii") if isinstance(k, str) else k,
            v.encode("latin1") if isinstance(v, str) else v,
        )
        for k, v in response.items()
    ]
    for c in response.cookies.values():
        out.append((b"Set-Cookie", c.output(header="").encode("ascii").strip()))
    return out
