"""`{% url %}`, `{% static %}` and `{% htmx_script %}` that remember their answers (template
builtins: settings.TEMPLATES; templates use them without loading a library).

Every page's navigation reverses about twenty URLs, ~11 us each (Django walks the resolver's
candidates and quotes every argument each time), a tenth of a light page's server time. A
URL is a function of the view name, its arguments, the current application, the URL
configuration and the script prefix, so those are the key of a bounded cache; anything that
cannot be a key (an unhashable argument) is reversed as Django does. Otherwise the tag is
Django's: same syntax, same errors, `as var`, escaping.

`{% static %}` likewise: every page's head and header name six assets, ~20 us each (the
storage joins and quotes the path, a manifest looks it up, each time), and a static URL is
a function of the path, STATIC_URL and the storage (the manifest is read once per process),
so it is remembered until one of those settings changes; so is django-htmx's
`{% htmx_script %}` (script tags of static URLs), unless the page has a CSP nonce.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.templatetags.static import StaticNode
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django_htmx.jinja import htmx_script as django_htmx_script

register = template.Library()
_MISSING = object()


@functools.lru_cache(maxsize=8192)
def _reverse(view_name, args: tuple, kwargs: tuple, current_app, urlconf, _prefix: str) -> str:
    # `_prefix` is only part of the key: reverse() reads the thread's own, which it is.
    return reverse(
        view_name, urlconf=urlconf, args=args, kwargs=dict(kwargs), current_app=current_app
    )


def remembered_reverse(view_name, args=(), kwargs=None, current_app=None) -> str:
    """django.urls.reverse, from the cache when it can be a key."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    try:
        return _reverse(
            view_name,
            tuple(args),
            tuple(sorted((kwargs or {}).items())),
            current_app,
            urlconf,
            get_script_prefix(),
        )
    except TypeError:  # an unhashable argument
        return reverse(
            view_name, urlconf=urlconf, args=args, kwargs=kwargs, current_app=current_app
        )


class RememberedURLNode(URLNode):
    def render(self, context) -> str:
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        request = getattr(context, "request", None)
        current_app = getattr(request, "current_app", _MISSING)  # as Django's tag finds it
        if current_app is _MISSING:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        url = ""
        try:
            url = remembered_reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token) -> URLNode:
    """Django's {% url %} (django.template.defaulttags.url), its reversals remembered."""
    node = django_url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)


@functools.lru_cache(maxsize=1024)
def _static(path: str) -> str:
    return StaticNode.handle_simple(path)


@receiver(setting_changed)
def _forget_static(*, setting: str, **kwargs) -> None:
    if setting in ("STATIC_URL", "STATIC_ROOT", "STORAGES", "INSTALLED_APPS"):
        _static.cache_clear()
        _htmx_script.cache_clear()


class RememberedStaticNode(StaticNode):
    @classmethod
    def handle_simple(cls, path) -> str:
        if not isinstance(path, str):
            return StaticNode.handle_simple(path)
        return _static(path)


@register.tag
def static(parser, token) -> StaticNode:
    """Django's {% static %} (django.templatetags.static.static), its URLs remembered."""
    return RememberedStaticNode.handle_token(parser, token)


@functools.lru_cache(maxsize=16)
def _htmx_script(minified: bool, version: int, extensions: str, _debug: bool) -> str:
    # `_debug` is only part of the key: django-htmx adds its debug script when DEBUG is on.
    return django_htmx_script(version=version, minified=minified, extensions=extensions)


@register.simple_tag(takes_context=True)
def htmx_script(context, minified: bool = True, version: int = 2, extensions: str = "") -> str:
    """django-htmx's {% htmx_script %} (its script tags: static URLs), remembered; with a
    CSP nonce in the context it is written afresh, as django-htmx writes it."""
    nonce = context.get("csp_nonce")
    if nonce is not None:
        return django_htmx_script(
            version=version, minified=minified, extensions=extensions, nonce=nonce
        )
    return _htmx_script(minified, version, extensions, settings.DEBUG)
