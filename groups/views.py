"""Consumer-group pages: list, detail (lag, members, diagnostics, history), reset, delete."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability
from console.jobs import job_create, job_enqueue
from console.kafka.errors import InvalidRequest
from console.kafka.groups import STATES, committed_offsets, group_listings
from console.models import AuditEntry
from console.web import ConsoleRequest, cluster_view, partial
from groups import services
from groups.forms import GroupDeleteForm, ResetForm
from groups.selectors import (
    SORTS,
    group_detail_get,
    group_lag_get,
    group_list_for,
    sparkline,
)
from groups.services import ResetSpec, parse_offsets
from groups.tasks import group_offsets_reset


def _int(value, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@require_GET
@cluster_view()
def group_list(request: ConsoleRequest) -> TemplateResponse:
    """Groups with state, protocol, members, topics and lag; search, state filter, sort, pages."""
    q = request.GET.get("q", "").strip()[:255]
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    sort = request.GET.get("sort", "group")
    page = group_list_for(
        cluster=request.cluster,
        q=q,
        state=state,
        sort=sort if sort in SORTS else "group",
        desc=request.GET.get("desc") == "1",
        page=_int(request.GET.get("page"), 1),
    )
    return TemplateResponse(
        request,
        partial(request, "groups/group_list.html", "rows"),
        {"cluster": request.cluster, "page": page, "q": q, "state": state, "states": STATES},
    )


@require_GET
@cluster_view()
def group_detail(request: ConsoleRequest, group: str) -> TemplateResponse:
    """Lag per partition with its owner, members, diagnostics and lag history."""
    detail = group_detail_get(cluster=request.cluster, group_id=group)
    charts = {t: sparkline(s) for t, s in detail.history.items()}
    resets = AuditEntry.objects.filter(
        cluster=request.cluster.name, action="group.reset", target=group, outcome="ok"
    )[:5]
    return TemplateResponse(
        request,
        partial(request, "groups/group_detail.html", "lag"),
        {
            "cluster": request.cluster,
            "group": group,
            "detail": detail,
            "charts": charts,
            "resets": resets,
            "form": ResetForm(initial={"target": "earliest"}),
        },
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def group_reset(request: ConsoleRequest, group: str) -> HttpResponse:
    """GET: the preview of a reset. POST: confirm it; a Celery task commits the offsets.

    Invalid input answers 400 with the form and its errors, as a page or (htmx) the
    ``reset`` fragment; a confirm without a query is invalid input too.
    """
    form = ResetForm(request.GET if request.GET or request.method == "POST" else None)
    plan = None
    if form.is_valid():
        try:
            plan = services.reset_plan(cluster=request.cluster, group_id=group, spec=form.spec())
        except InvalidRequest as exc:
            form.add_error(None, str(exc))
    if request.method == "POST" and plan is not None:
        if plan.rows:
            return _confirm(request, group, plan, params={"request": request.GET.dict()})
        form.add_error(None, "Nothing to reset: the preview has no partition.")
    refusal = services.refusal_for(request.cluster, group) if plan else ""
    return TemplateResponse(
        request,
        partial(request, "groups/group_reset.html", "reset"),
        {
            "cluster": request.cluster,
            "group": group,
            "form": form,
            "plan": plan,
            "refusal": refusal,
        },
        status=400 if form.is_bound and not form.is_valid() else 200,
    )


def _confirm(request: ConsoleRequest, group: str, plan, params: dict) -> HttpResponse:
    refusal = services.refusal_for(request.cluster, group)
    if refusal:
        messages.error(request, refusal)
        return redirect(request.get_full_path())
    if not plan.rows:
        messages.error(request, "Nothing to reset: the preview has no partition.")
        return redirect(request.get_full_path())
    job = job_create(
        kind="group.reset",
        cluster=request.cluster.name,
        target=group,
        user=request.user,
        params={**params, "offsets": plan.offsets},
    )
    job_enqueue(group_offsets_reset, job)
    return redirect("console:job", job_id=job.id)


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def group_undo(request: ConsoleRequest, group: str, audit_id: int) -> HttpResponse:
    """Reset back to the offsets a recorded reset found (preview first, like any reset)."""
    entry = get_object_or_404(
        AuditEntry,
        id=audit_id,
        cluster=request.cluster.name,
        action="group.reset",
        target=group,
        outcome="ok",
    )
    before = parse_offsets(entry.before or {})
    if not before:
        raise Http404("That reset recorded no earlier offsets to return to.")
    spec = ResetSpec(target="undo", offsets=tuple(sorted(before.items())))
    plan = services.reset_plan(cluster=request.cluster, group_id=group, spec=spec)
    if request.method == "POST":
        return _confirm(request, group, plan, params={"undo_of": entry.id})
    no_commit_before = sorted(k for k, v in (entry.before or {}).items() if v is None)
    return TemplateResponse(
        request,
        "groups/group_reset.html",
        {
            "cluster": request.cluster,
            "group": group,
            "form": None,
            "plan": plan,
            "undo": entry,
            "no_commit_before": no_commit_before,
            "refusal": services.refusal_for(request.cluster, group),
        },
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
def group_delete(request: ConsoleRequest, group: str) -> HttpResponse:
    """GET: the committed offsets the group would lose, and its state (nothing changes).
    POST: delete it once its id is typed. A wrong or missing confirmation answers 400; a
    group with members, or whose offsets changed since the preview, 409 with the reason."""
    form = GroupDeleteForm(request.POST if request.method == "POST" else None, group=group)
    problem, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.consumer_group_delete(
                    user=request.user,
                    cluster=request.cluster,
                    group_id=group,
                    seen_offsets=form.cleaned_data["seen_offsets"],
                )
            except InvalidRequest as exc:
                problem, status = str(exc), 409
                form = GroupDeleteForm(group=group)  # type the id again, for the new preview
            else:
                messages.success(request, f"Group {group} deleted.")
                return redirect("groups:list", request.cluster.name)
        else:
            status = 400
    plan = services.group_delete_plan(cluster=request.cluster, group_id=group)
    return TemplateResponse(
        request,
        "groups/group_delete.html",
        {
            "cluster": request.cluster,
            "group": group,
            "plan": plan,
            "form": form,
            "problem": problem,
        },
        status=status,
    )


@require_GET
@cluster_view()
def groups_for_topic(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """The groups that have committed offsets on a topic, with their lag on it."""
    ids = [g.group_id for g in group_listings(request.cluster)]
    committed = committed_offsets(request.cluster, ids)
    readers = sorted(
        g for g, c in committed.items() if isinstance(c, dict) and any(t == topic for t, _ in c)
    )
    rows = []
    for gid in readers:
        lag = group_lag_get(cluster=request.cluster, group_id=gid, check_markers=False)
        t = lag.topics.get(topic)
        rows.append(
            {"group": gid, "lag": t.lag if t else None, "no_commit": t.no_commit if t else 0}
        )
    return TemplateResponse(
        request,
        partial(request, "groups/for_topic.html", "rows"),
        {"cluster": request.cluster, "topic": topic, "rows": rows, "tab": "consumers"},
    )
