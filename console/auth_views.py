"""Log-in with throttling per user name and per (user name, address), never per address alone.

Failures within ``CONSOLE_LOGIN_LOCKOUT_S`` are counted twice:

- per (user name, address): ``CONSOLE_LOGIN_MAX_FAILURES`` lock that name out from that
  address only, so one mistyping or guessing client does not lock the account elsewhere;
- per user name, from any address: ``USER_FACTOR`` times as many lock the name out
  everywhere, so a guesser spreading tries over many addresses is still stopped.

An address alone never locks anyone out: behind a reverse proxy or an office NAT every
colleague shares it.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.http import HttpResponse
from django.utils import timezone

from console.models import LoginFailure

# Per user name, from all addresses together: this many times the per-address bound.
USER_FACTOR = 4

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def _networks(entries: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"CONSOLE_TRUSTED_PROXIES: {entry!r} is neither an IP address nor a network "
                "(CIDR such as 10.0.0.0/8); list your reverse proxies, comma-separated."
            ) from None
    return tuple(networks)


def trusted_proxies() -> tuple[IPNetwork, ...]:
    """The parsed ``CONSOLE_TRUSTED_PROXIES``; a typo there raises ImproperlyConfigured."""
    return _networks(tuple(settings.CONSOLE_TRUSTED_PROXIES))


# Parse now: a typo fails when the URLconf loads (first request, `manage.py check`), not at
# the first log-in.
trusted_proxies()


def _ip(value: str) -> IPAddress | None:
    try:
        ip = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped  # an IPv4 peer on a dual-stack socket: ::ffff:a.b.c.d
    return ip


def _trusted(ip: IPAddress, proxies: tuple[IPNetwork, ...]) -> bool:
    return any(ip.version == net.version and ip in net for net in proxies)


def client_address(request) -> str:
    """The caller's address: REMOTE_ADDR, or X-Forwarded-For when a trusted proxy sent it.

    Only a proxy in CONSOLE_TRUSTED_PROXIES may name the client; the header is read from
    the right (the entry our own proxy appended) past further trusted proxies, and the
    first untrusted entry is the client. Anything to its left could be forged by the
    client, and a malformed entry makes the whole header untrustworthy: REMOTE_ADDR then.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    peer = _ip(remote)
    proxies = trusted_proxies()
    if peer is None or not proxies or not _trusted(peer, proxies):
        return str(peer or remote)[:64]
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [_ip(hop) for hop in forwarded.split(",")] if forwarded.strip() else []
    if any(hop is None for hop in hops):
        return str(peer)[:64]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return str(hop)[:64]
    # Every hop is one of our proxies (or there is none): the leftmost is the origin.
    return str(hops[0] if hops else peer)[:64]


class LoginForm(AuthenticationForm):
    """Django's form; a backend that says why it refused (``request.login_refusal``: no
    role, directory unreachable) is shown instead of the wrong-password message."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = getattr(self.request, "login_refusal", "")
        if refusal:
            return ValidationError(refusal, code=getattr(self.request, "login_refusal_code", ""))
        return super().get_invalid_login_error()


class ThrottledLoginView(auth_views.LoginView):
    """Django's LoginView: wrong credentials answer 400, repeated failures 429."""

    form_class = LoginForm

    def post(self, request, *args, **kwargs) -> HttpResponse:
        self.username = request.POST.get("username", "")[:150].lower()
        self.address = client_address(request)
        refusal = self._lockout()
        if refusal:
            form = self.get_form()
            form.add_error(None, refusal)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def _lockout(self) -> str:
        since = timezone.now() - dt.timedelta(seconds=settings.CONSOLE_LOGIN_LOCKOUT_S)
        recent = LoginFailure.objects.filter(at__gte=since, username=self.username)
        minutes = max(1, settings.CONSOLE_LOGIN_LOCKOUT_S // 60)
        wait = f"wait {minutes} minute(s) and try again."
        per_pair = settings.CONSOLE_LOGIN_MAX_FAILURES
        if recent.filter(address=self.address).count() >= per_pair:
            return f"Too many failed log-ins for this account from your address: {wait}"
        if recent.count() >= per_pair * USER_FACTOR:
            return (
                "Too many failed log-ins for this account from several addresses: "
                f"{wait} If that was not you, tell an administrator."
            )
        return ""

    def form_invalid(self, form) -> HttpResponse:
        """The form again with its error, as 400 like every other form's invalid input."""
        LoginFailure.objects.create(username=self.username, address=self.address)
        response = super().form_invalid(form)
        response.status_code = 400
        return response

    def form_valid(self, form) -> HttpResponse:
        # Only this address's failures are forgiven: others' may still be someone guessing.
        LoginFailure.objects.filter(username=self.username, address=self.address).delete()
        return super().form_valid(form)
