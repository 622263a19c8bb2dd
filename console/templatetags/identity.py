"""{% login_choices as choices %}: what the log-in page offers (single sign-on, password)."""

from django import template

from console.identity.oidc import login_choices as _login_choices

register = template.Library()


@register.simple_tag
def login_choices() -> dict:
    return _login_choices()
