"""Kafka ACL pages: the list with filters, create and delete (preview, then confirm), who may
read and write one topic, and what one principal may do.

Listing needs the viewer role; creating and deleting the admin role on a writable cluster
(checked and audited in console.acls.services). A broker without an authorizer shows a
clear message, not an error page.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability, can
from console.acls import services
from console.acls.forms import AclCreateForm, AclFilterForm
from console.kafka import InvalidRequest
from console.kafka.acls import Acl, AclFilter, AclsDisabled
from console.web import ConsoleRequest, cluster_view

CONFIRM_SALT = "console.acls.delete"
CONFIRM_MAX_AGE_S = 3600
FIELDS = ("principal", "resource_type", "resource_name", "pattern_type", "operation", "permission")


def acl_view(view: Callable) -> Callable:
    """A broker without an authorizer answers every ACL request with SECURITY_DISABLED: show
    that as a page that says so (200), not as an error."""

    @functools.wraps(view)
    def wrapper(request: ConsoleRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            services.refuse_if_read_only(
                request.user, request.cluster, view.__name__.replace("acl_", "acl.", 1)
            )
        try:
            request.acl_settings = services.authorizer(request.cluster)
            return view(request, *args, **kwargs)
        except AclsDisabled as exc:
            return TemplateResponse(
                request,
                "acls/disabled.html",
                {"cluster": request.cluster, "error": str(exc), "topic": kwargs.get("topic")},
            )

    return wrapper


def _common(request: ConsoleRequest) -> dict[str, Any]:
    return {
        "cluster": request.cluster,
        "can_admin": can(request.user, Capability.ADMIN) and not request.cluster.read_only,
    }


def _delete_link(cluster: str, acl: Acl) -> str:
    """The delete preview of exactly this one binding."""
    params = {f: getattr(acl, f) for f in FIELDS}
    params["host"] = acl.host
    return reverse("acls:delete", args=[cluster]) + "?" + urlencode(params)


def _rows(cluster: str, acls: list[Acl]) -> list[tuple[Acl, str]]:
    return [(a, _delete_link(cluster, a)) for a in acls]


@require_GET
@cluster_view()
@acl_view
def acl_list(request: ConsoleRequest) -> TemplateResponse:
    form = AclFilterForm(request.GET or None)
    status = 200
    acls: list[Acl] = []
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        flt = form.acl_filter() if form.is_bound else AclFilter()
        acls = services.describe(request.cluster, flt)
    return TemplateResponse(
        request,
        "acls/acl_list.html",
        {
            **_common(request),
            "form": form,
            "rows": _rows(request.cluster.name, acls),
            "count": len(acls),
            "filtered": form.is_bound and any(request.GET.get(f) for f in (*FIELDS, "host")),
            "delete_query": request.GET.urlencode(),
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
@acl_view
def acl_create(request: ConsoleRequest) -> HttpResponse:
    """GET: the form. POST: the preview of the one binding it adds; POST with confirm: add it."""
    ctx = _common(request)
    if request.method == "GET":
        initial = {f: request.GET.get(f, "") for f in FIELDS if request.GET.get(f)}
        form = AclCreateForm(initial={"host": "*", "pattern_type": "literal", **initial})
        return TemplateResponse(request, "acls/acl_create.html", {**ctx, "form": form})
    services.refuse_if_read_only(request.user, request.cluster, "acl.create")
    form = AclCreateForm(request.POST)
    if not form.is_valid():
        return TemplateResponse(request, "acls/acl_create.html", {**ctx, "form": form}, status=400)
    acl = form.acl()
    if request.POST.get("confirm") != "1":
        exact = AclFilter(
            principal=acl.principal,
            resource_type=acl.resource_type,
            resource_name=acl.resource_name,
            pattern_type=acl.pattern_type,
            operation=acl.operation,
            permission=acl.permission,
            host=acl.host,
        )
        exists = bool(services.describe(request.cluster, exact))
        return TemplateResponse(
            request,
            "acls/acl_create.html",
            {**ctx, "form": form, "preview": acl, "exists": exists},
        )
    try:
        services.create(request.user, request.cluster, acl)
    except InvalidRequest as exc:
        form.add_error(None, f"Kafka refused the binding: {exc}")
        return TemplateResponse(request, "acls/acl_create.html", {**ctx, "form": form}, status=400)
    messages.success(
        request,
        f"Created: {acl.permission.upper()} {acl.operation.upper()} for {acl.principal} on "
        f"{acl.pattern_type} {acl.resource_type} {acl.resource_name}.",
    )
    return redirect(
        reverse("acls:list", args=[request.cluster.name])
        + "?"
        + urlencode({"principal": acl.principal})
    )


def _sign(cluster: str, acls: list[Acl], flt: dict) -> str:
    return signing.dumps(
        {
            "cluster": cluster,
            "filter": flt,
            "acls": [a.as_dict() for a in acls],
            "once": secrets.token_urlsafe(8),
        },
        salt=CONFIRM_SALT,
        compress=True,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
@acl_view
def acl_delete(request: ConsoleRequest) -> HttpResponse:
    """GET: the bindings a filter matches (the preview). POST: delete exactly those, each as
    an exact binding (one added since the preview is not touched)."""
    ctx = _common(request)
    if request.method == "POST":
        services.refuse_if_read_only(request.user, request.cluster, "acl.delete")
        try:
            seen = signing.loads(
                request.POST.get("plan", ""), salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE_S
            )
        except signing.BadSignature:
            return TemplateResponse(
                request,
                "acls/acl_delete.html",
                {
                    **ctx,
                    "form": AclFilterForm(),
                    "problem": "This confirmation carries no valid preview (missing, altered "
                    "or more than an hour old), so nothing was deleted: preview again.",
                },
                status=400,
            )
        if seen.get("cluster") != request.cluster.name or not seen.get("acls"):
            return TemplateResponse(
                request,
                "acls/acl_delete.html",
                {
                    **ctx,
                    "form": AclFilterForm(),
                    "problem": "This confirmation belongs to another cluster or deletes "
                    "nothing, so nothing was deleted.",
                },
                status=400,
            )
        acls = [Acl(**a) for a in seen["acls"]]
        deleted = services.delete(request.user, request.cluster, acls, seen.get("filter", {}))
        messages.success(
            request, f"Deleted {len(deleted)} ACL binding{'s' if len(deleted) != 1 else ''}."
        )
        return redirect("acls:list", request.cluster.name)
    services.refuse_if_read_only(request.user, request.cluster, "acl.delete")
    form = AclFilterForm(request.GET or None)
    if not form.is_bound or not form.is_valid() or form.acl_filter().is_empty():
        return TemplateResponse(
            request,
            "acls/acl_delete.html",
            {
                **ctx,
                "form": form,
                "problem": "Name a principal or a resource: an empty filter would match every "
                "binding, and the console never deletes all ACLs at once.",
            },
            status=400,
        )
    flt = form.acl_filter()
    if flt.pattern_type == "match":
        # MATCH describes the bindings that apply to a name; delete takes the literal ones.
        flt = AclFilter(**{**flt.__dict__, "pattern_type": ""})
    acls = services.describe(request.cluster, flt)
    plain = {k: v for k, v in flt.__dict__.items() if v}
    return TemplateResponse(
        request,
        "acls/acl_delete.html",
        {
            **ctx,
            "form": form,
            "acls": acls,
            "filter": plain,
            "plan": _sign(request.cluster.name, acls, plain) if acls else "",
        },
    )


SUMMARY_OPS = ("read", "write", "describe")


@require_GET
@cluster_view()
@acl_view
def acl_topic(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Who may read and write a topic: its literal bindings, prefixes of its name and '*'."""
    acls = services.describe(
        request.cluster,
        AclFilter(resource_type="topic", resource_name=topic, pattern_type="match"),
    )
    summary = []
    for op in SUMMARY_OPS:
        applies = [a for a in acls if a.operation in (op, "all")]
        summary.append(
            (
                op,
                sorted({a.principal for a in applies if a.permission == "allow"}),
                sorted({a.principal for a in applies if a.permission == "deny"}),
            )
        )
    return TemplateResponse(
        request,
        "acls/acl_topic.html",
        {
            **_common(request),
            "topic": topic,
            "tab": "acls",
            "rows": _rows(request.cluster.name, acls),
            "summary": summary,
            "can_operate": can(request.user, Capability.OPERATE),
            "can_admin_role": can(request.user, Capability.ADMIN),
            "settings": request.acl_settings,
        },
    )


@require_GET
@cluster_view()
@acl_view
def acl_principal(request: ConsoleRequest) -> TemplateResponse:
    """What one principal may do: its bindings and those for everyone (User:*), by resource."""
    principal = request.GET.get("principal", "").strip()[:255]
    groups: list[tuple[tuple[str, str, str], list[tuple[Acl, str]]]] = []
    problem = ""
    if principal and ":" not in principal:
        problem = "A principal is Type:name, e.g. User:alice."
    elif principal:
        acls = services.describe(request.cluster, AclFilter(principal=principal))
        kind = principal.split(":", 1)[0]
        if principal != f"{kind}:*":
            acls += services.describe(request.cluster, AclFilter(principal=f"{kind}:*"))
        by: dict[tuple[str, str, str], list[Acl]] = {}
        for a in sorted(set(acls)):
            by.setdefault((a.resource_type, a.pattern_type, a.resource_name), []).append(a)
        groups = [(k, _rows(request.cluster.name, v)) for k, v in sorted(by.items())]
    return TemplateResponse(
        request,
        "acls/acl_principal.html",
        {**_common(request), "principal": principal, "groups": groups, "problem": problem},
        status=400 if problem else 200,
    )
