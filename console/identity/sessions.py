"""The session engine: Django's database sessions, each remembered for a few seconds here.

``SESSION_ENGINE = "console.identity.sessions"``; see console/identity/recent.py for the
window (CONSOLE_IDENTITY_RECENT_S) and what forgets a session early.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseStore

from console.identity import recent


class SessionStore(DatabaseStore):
    def load(self) -> dict:
        key = self.session_key
        if key:
            data = recent.session_data(key)
            if data is not None:
                return data
        data = super().load()
        if key and self.session_key == key:  # found (a missing one clears the key)
            recent.remember_session(key, data)
        return data

    def save(self, must_create: bool = False) -> None:
        super().save(must_create=must_create)
        if self.session_key:
            recent.forget_session(self.session_key)
            recent.remember_session(self.session_key, self._get_session(no_load=True))

    def delete(self, session_key: str | None = None) -> None:
        recent.forget_session(session_key or self.session_key)
        super().delete(session_key)
