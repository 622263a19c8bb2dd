"""Log-in with throttling: too many failures for a user name or an address lock it out."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone

from console.models import LoginFailure


def client_address(request) -> str:
    # Behind a proxy, configure it to set REMOTE_ADDR (e.g. uvicorn/daphne --proxy-headers);
    # trusting X-Forwarded-For blindly would let a guesser pick a fresh address each time.
    return request.META.get("REMOTE_ADDR", "")[:64]


class ThrottledLoginView(auth_views.LoginView):
    """Django's LoginView, refusing further tries after repeated failures (HTTP 429)."""

    def post(self, request, *args, **kwargs) -> HttpResponse:
        username = request.POST.get("username", "")[:150].lower()
        address = client_address(request)
        since = timezone.now() - dt.timedelta(seconds=settings.CONSOLE_LOGIN_LOCKOUT_S)
        failures = LoginFailure.objects.filter(at__gte=since).filter(
            Q(username=username) | Q(address=address)
        )
        if failures.count() >= settings.CONSOLE_LOGIN_MAX_FAILURES:
            form = self.get_form()
            minutes = max(1, settings.CONSOLE_LOGIN_LOCKOUT_S // 60)
            form.add_error(
                None,
                f"Too many failed log-ins for this account or address: wait {minutes} "
                "minute(s) and try again.",
            )
            return self.render_to_response(self.get_context_data(form=form), status=429)
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:  # the form came back: the password was wrong
            LoginFailure.objects.create(username=username, address=address)
        else:
            LoginFailure.objects.filter(username=username).delete()
        return response
