"""`{% url %}` that remembers its answers (a template builtin: settings.TEMPLATES).

Every page's navigation reverses about twenty URLs, ~11 us each (Django walks the resolver's
candidates and quotes every argument each time), a tenth of a light page's server time. A
URL is a function of the view name, its arguments, the current application, the URL
configuration and the script prefix, so those are the key of a bounded cache; anything that
cannot be a key (an unhashable argument) is reversed as Django does. Otherwise the tag is
Django's: same syntax, same errors, `as var`, escaping.
"""

from __future__ import annotations

import functools

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

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
