"""Who is asking, remembered for a few seconds: the session, the user, the role.

Every page view used to read the session row, the user row, the user's and the role
groups' permissions and the single-cluster roles: five database round trips before the
view ran, for a wall of dashboards the same five answers many times a second. This
process keeps each answer for ``CONSOLE_IDENTITY_RECENT_S`` seconds (default 3, the bound
the live tail already gives for a permission lost elsewhere; 0 turns it off).

- Sessions (``SESSION_ENGINE = "console.identity.sessions"``): the database store, with a
  session's data kept after a read or a save here; deleting or rotating one here forgets it
  at once (log-out, log-in).
- The user (``RecentUserMiddleware``, Django's AuthenticationMiddleware with a memory):
  keyed by the user id, the backend and the session's auth hash (a password change changes
  the hash; a session that is gone never gets this far), with the permission sets and
  cluster roles read up front; each request gets a copy of its own, so nothing one request
  notes on the user reaches another.
- What may change a role in this process (a user, its groups or permissions, a group's
  permissions, a single-cluster role, a log-out) forgets every user at once; a change made
  by another process is seen within the window.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

# Attributes one request notes on its user (console/web.py: the page's cluster).
PER_REQUEST = ("console_cluster",)
MAX_ENTRIES = 10_000

_lock = threading.Lock()
_users: dict[tuple, tuple[float, Any]] = {}
_sessions: dict[str, tuple[float, dict]] = {}
# Called with a session key when that session is forgotten, with None when every user is
# (console/shared_pages.py closes its doors).
_listeners: list = []


def on_forget(listener) -> None:  # noqa: ANN001
    if listener not in _listeners:
        _listeners.append(listener)


def window() -> float:
    return float(getattr(settings, "CONSOLE_IDENTITY_RECENT_S", 0.0))


def _put(table: dict, key: Any, value: Any, ttl: float) -> None:
    with _lock:
        if len(table) >= MAX_ENTRIES:
            now = time.monotonic()
            for k in [k for k, (until, _v) in table.items() if until <= now] or list(table):
                del table[k]
        table[key] = (time.monotonic() + ttl, value)


def _get(table: dict, key: Any) -> Any:
    with _lock:
        found = table.get(key)
    if found is None or found[0] <= time.monotonic():
        return None
    return found[1]


def forget_users(**_: object) -> None:
    """A role may have changed: every user is read afresh."""
    with _lock:
        _users.clear()
    for listener in _listeners:
        listener(None)


def forget_all() -> None:
    with _lock:
        _sessions.clear()
    forget_users()


# --- sessions (console/identity/sessions.py) ---


def session_data(key: str) -> dict | None:
    data = _get(_sessions, key)
    return copy.deepcopy(data) if data is not None else None


def remember_session(key: str, data: dict) -> None:
    ttl = window()
    if ttl > 0 and key:
        _put(_sessions, key, copy.deepcopy(data), ttl)


def forget_session(key: str | None) -> None:
    if not key:
        return
    with _lock:
        _sessions.pop(key, None)
    for listener in _listeners:
        listener(key)


# --- users ---


def _user_key(request: HttpRequest) -> tuple | None:
    """The user a session names (several sessions of one person share it)."""
    session = request.session
    if not session.session_key:
        return None
    try:
        return (
            session[auth.SESSION_KEY],
            session[auth.BACKEND_SESSION_KEY],
            session.get(auth.HASH_SESSION_KEY, ""),
        )
    except KeyError:
        return None


def _read_ahead(user: Any) -> None:
    """Fill the caches a page would fill one query at a time, so the copy carries them."""
    from console.access import cluster_roles

    if user.is_authenticated and user.is_active:
        user.get_all_permissions()  # _perm_cache, _user_perm_cache, _group_perm_cache
        cluster_roles(user)


def _copy(user: Any) -> Any:
    mine = copy.copy(user)
    for name in PER_REQUEST:
        mine.__dict__.pop(name, None)
    return mine


def recent_user(request: HttpRequest) -> Any:
    ttl = window()
    key = _user_key(request) if ttl > 0 else None
    if key is None:
        return auth.get_user(request)
    user = _get(_users, key)
    if user is None:
        user = auth.get_user(request)
        if not user.is_authenticated:
            return user  # the session's user is gone or its hash no longer matches
        _read_ahead(user)
        _put(_users, key, user, ttl)
    return _copy(user)


class RecentUserMiddleware(AuthenticationMiddleware):
    """AuthenticationMiddleware, with the user remembered for the window (see above)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)  # its checks, and request.auser
        request.user = SimpleLazyObject(lambda: recent_user(request))


def connect_signals() -> None:
    """Forget users on anything in this process that may change a role (apps.ready)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from console.models import ClusterRole

    user_model = get_user_model()
    for model in (user_model, Group, ClusterRole):
        post_save.connect(forget_users, sender=model, dispatch_uid=f"recent-save-{model}")
        post_delete.connect(forget_users, sender=model, dispatch_uid=f"recent-del-{model}")
    for through in (
        user_model.groups.through,
        user_model.user_permissions.through,
        Group.permissions.through,
    ):
        m2m_changed.connect(forget_users, sender=through, dispatch_uid=f"recent-m2m-{through}")
    user_logged_out.connect(forget_users, dispatch_uid="recent-logout")
