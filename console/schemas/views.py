"""Schema-registry pages of a cluster: subjects, a subject (versions, diff, references,
compatibility), registering a version after the registry's compatibility check, level
changes and deletes, each previewed and then confirmed."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability, can
from console.messages.schema_registry import TIMEOUT_S, RegistryError
from console.schemas import services
from console.schemas.forms import (
    GLOBAL,
    DeleteChoiceForm,
    LevelConfirmForm,
    LevelForm,
    SchemaForm,
    TypedConfirmForm,
    subject_problem,
)
from console.schemas.registry import LEVELS, RegistryAnswer, RegistryUnavailable
from console.schemas.selectors import (
    registry,
    subject_detail_get,
    subject_list_for,
    subject_usage_for,
    topic_subjects_for,
)
from console.web import ConsoleRequest, cluster_view


def _registry_errors(view: Callable) -> Callable:
    """A registry that is down, slow or answering errors is a visible panel on the
    schemas page (503/502), never a 500."""

    @functools.wraps(view)
    def wrapper(request: ConsoleRequest, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except RegistryError as exc:
            status = 503 if isinstance(exc, RegistryUnavailable) else 502
            return TemplateResponse(
                request,
                "schemas/error.html" + ("#panel" if request.htmx else ""),
                {
                    "cluster": request.cluster,
                    "error": str(exc),
                    "unavailable": isinstance(exc, RegistryUnavailable),
                    "timeout_s": TIMEOUT_S,
                    "status": status,
                },
                status=200 if request.htmx else status,
            )

    return wrapper


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _subject_ok(subject: str) -> None:
    from django.http import Http404

    problem = subject_problem(subject)
    if problem:
        raise Http404(problem)


@require_GET
@cluster_view()
@_registry_errors
def subject_list(request: ConsoleRequest) -> TemplateResponse:
    """Subjects, searchable as you type, by name, fifty a page, each with its type, latest
    version, compatibility level and the topic it belongs to."""
    q = request.GET.get("q", "").strip()[:255]
    desc = request.GET.get("desc") == "1"
    page = subject_list_for(
        cluster=request.cluster,
        q=q,
        page=_int(request.GET.get("page"), 1),
        desc=desc,
        deleted=can(request.user, Capability.ADMIN) and not request.cluster.read_only,
    )

    def link(**changes) -> str:
        params = {"q": q, "desc": "1" if desc else "", "page": str(page.page)}
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v})

    links = {
        "sort": link(desc="" if desc else "1", page=""),
        "previous": link(page=str(page.page - 1)) if page.page > 1 else "",
        "next": link(page=str(page.page + 1)) if page.page < page.pages else "",
    }
    template = "schemas/subject_list.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#rows"
    return TemplateResponse(
        request,
        template,
        {"cluster": request.cluster, "page": page, "q": q, "links": links, "tab": "subjects"},
    )


@require_GET
@cluster_view()
@_registry_errors
def subject_detail(request: ConsoleRequest, subject: str) -> TemplateResponse:
    """A subject: versions, the chosen one pretty-printed, a diff of any two, references,
    compatibility."""
    _subject_ok(subject)
    detail = subject_detail_get(
        cluster=request.cluster,
        subject=subject,
        version=request.GET.get("version"),
        diff_from=request.GET.get("from"),
        diff_to=request.GET.get("to"),
    )
    template = "schemas/subject_detail.html"
    if request.htmx and request.htmx.target == "diff":
        template += "#diff"
    return TemplateResponse(
        request, template, {"cluster": request.cluster, "detail": detail, "subject": subject}
    )


@require_GET
@cluster_view()
@_registry_errors
def subject_usage(request: ConsoleRequest, subject: str) -> TemplateResponse:
    """Which topics' newest messages carry the subject's schema ids (any naming strategy);
    a fragment for the subject page, or a page of its own."""
    _subject_ok(subject)
    usage = subject_usage_for(cluster=request.cluster, subject=subject)
    template = "schemas/usage.html" + ("#usage" if request.htmx else "")
    return TemplateResponse(
        request, template, {"cluster": request.cluster, "subject": subject, "usage": usage}
    )


@require_GET
@cluster_view()
def topic_subjects(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """The topic's key and value subjects (a fragment for the topic page, or a page)."""
    ctx = {"cluster": request.cluster, "topic": topic, "subjects": [], "error": ""}
    if request.cluster.schema_registry_url:
        try:
            ctx["subjects"] = topic_subjects_for(cluster=request.cluster, topic=topic)
        except RegistryError as exc:
            ctx["error"] = str(exc)
    template = "schemas/topic_subjects.html" + ("#subjects" if request.htmx else "")
    return TemplateResponse(request, template, ctx)


def _register_context(request: ConsoleRequest, subject: str | None, form: SchemaForm, **extra):
    return {"cluster": request.cluster, "subject": subject, "form": form, **extra}


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
@_registry_errors
def schema_register(request: ConsoleRequest, subject: str | None = None) -> HttpResponse:
    """GET: the form. POST step=check: the registry's compatibility answer (nothing changes).
    POST step=register: register the version that was checked."""
    if subject is not None:
        _subject_ok(subject)
    new = subject is None
    if request.method == "GET":
        form = SchemaForm(new_subject=new, initial={"subject": request.GET.get("subject", "")})
        if not new:
            registry(request.cluster)
        return TemplateResponse(
            request, "schemas/register.html", _register_context(request, subject, form)
        )
    form = SchemaForm(request.POST, request.FILES, new_subject=new)
    if not form.is_valid():
        return TemplateResponse(
            request, "schemas/register.html", _register_context(request, subject, form), status=400
        )
    data = form.cleaned_data
    target = data["subject"] if new else subject
    args = {
        "cluster": request.cluster,
        "subject": target,
        "schema": data["schema"],
        "schema_type": data["schema_type"],
        "references": data["references"],
    }
    if request.POST.get("step") == "register":
        try:
            schema_id, version = services.schema_register(user=request.user, **args)
        except RegistryAnswer as exc:
            return TemplateResponse(
                request,
                "schemas/register.html",
                _register_context(request, subject, form, target=target, refused=exc.message),
                status=409 if exc.status == 409 else 400,
            )
        messages.success(request, f"Registered {target} version {version} (schema id {schema_id}).")
        return redirect("schemas:detail", request.cluster.name, target)
    try:
        result = services.schema_check(**args)
    except RegistryAnswer as exc:
        # e.g. 422: the registry finds the schema itself invalid
        return TemplateResponse(
            request,
            "schemas/register.html",
            _register_context(request, subject, form, target=target, refused=exc.message),
            status=400,
        )
    return TemplateResponse(
        request,
        "schemas/register.html",
        _register_context(
            request,
            subject,
            form,
            target=target,
            result=result,
            checked=data,
            references_json=json.dumps(data["references"]) if data["references"] else "",
        ),
        status=200 if result.compatible else 409,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
@_registry_errors
def compatibility_edit(request: ConsoleRequest, subject: str | None = None) -> HttpResponse:
    """GET ?level=X: the level before and after (nothing changes). POST: set it, if it is
    still what the preview showed."""
    if subject is not None:
        _subject_ok(subject)
    problem, status = "", 200
    if request.method == "POST":
        confirm = LevelConfirmForm(request.POST, subject=subject is not None)
        if confirm.is_valid():
            level = confirm.cleaned_data["level"]
            try:
                services.compatibility_set(
                    user=request.user,
                    cluster=request.cluster,
                    subject=subject,
                    level=level,
                    seen=confirm.cleaned_data["seen"],
                )
            except services.PreviewStale as exc:
                problem, status = str(exc), 409
            except RegistryAnswer as exc:
                problem, status = exc.message, 400
            else:
                what = f"{subject}'s" if subject else "The global"
                now = "the global level" if level == GLOBAL else level
                messages.success(request, f"{what} compatibility level is now {now}.")
                if subject:
                    return redirect("schemas:detail", request.cluster.name, subject)
                return redirect("schemas:list", request.cluster.name)
        else:
            problem, status = "Choose one of the levels and preview it first.", 400
    form = LevelForm(request.GET if "level" in request.GET else None, subject=subject is not None)
    plan = None
    if form.is_bound and form.is_valid():
        plan = services.compatibility_plan(
            cluster=request.cluster, subject=subject, level=form.cleaned_data["level"]
        )
    elif not form.is_bound:
        current = services.compatibility_plan(cluster=request.cluster, subject=subject, level="")
        form = LevelForm(
            initial={"level": GLOBAL if current.inherited else current.old},
            subject=subject is not None,
        )
    else:
        status = status if status != 200 else 400
    return TemplateResponse(
        request,
        "schemas/compatibility.html",
        {
            "cluster": request.cluster,
            "subject": subject,
            "form": form,
            "plan": plan,
            "problem": problem,
            "levels": LEVELS,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
@_registry_errors
def schema_delete(request: ConsoleRequest, subject: str) -> HttpResponse:
    """GET ?version=N&permanent=1: what a soft or hard delete of a version (or, without a
    version, the subject) removes; nothing changes. POST: delete, once its name is typed."""
    _subject_ok(subject)
    source = request.POST if request.method == "POST" else request.GET
    choice = DeleteChoiceForm(source)
    choice.is_valid()
    version = choice.cleaned_data.get("version") if not choice.errors.get("version") else None
    permanent = bool(choice.cleaned_data.get("permanent"))
    plan = services.delete_plan(
        cluster=request.cluster, subject=subject, version=version, permanent=permanent
    )
    confirm = TypedConfirmForm(
        request.POST if request.method == "POST" else None, name=plan.confirm_text
    )
    problem, status = "", 200
    if request.method == "POST":
        if confirm.is_valid():
            try:
                services.schema_delete(
                    user=request.user,
                    cluster=request.cluster,
                    subject=subject,
                    version=version,
                    permanent=permanent,
                )
            except RegistryAnswer as exc:
                problem, status = exc.message, 409 if exc.status in (409, 422) else 400
            else:
                kind = "Hard-deleted" if permanent else "Soft-deleted"
                messages.success(request, f"{kind} {plan.confirm_text}.")
                if version is not None:
                    live = [v for v in plan.versions if v != version]
                    if live:
                        return redirect("schemas:detail", request.cluster.name, subject)
                return redirect("schemas:list", request.cluster.name)
        else:
            status = 400
    return TemplateResponse(
        request,
        "schemas/delete.html",
        {
            "cluster": request.cluster,
            "subject": subject,
            "plan": plan,
            "confirm": confirm,
            "problem": problem,
            "delete_url": reverse("schemas:delete", args=[request.cluster.name, subject]),
        },
        status=status,
    )
