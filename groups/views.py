"""Consumer-group pages: list, detail (lag, members, diagnostics, history), reset, delete."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability
from console.jobs import job_create, job_enqueue
from console.kafka.errors import InvalidRequest
from console.kafka.groups import STATES
from console.models import AuditEntry, Job
from console.shared_pages import shared_page
from console.web import ConsoleRequest, cluster_view, int_param, page_links, partial, sort_links
from groups import services
from groups.forms import GroupDeleteForm, ResetForm
from groups.selectors import (
    HISTORY_RANGES,
    SORTS,
    group_detail_get,
    group_list_for,
    lag_history_get,
    topic_consumers_for,
)
from groups.services import ResetSpec, parse_offsets
from groups.tasks import group_offsets_reset

# Live pages refresh themselves this often (htmx polling, paused while hidden or typing).
REFRESH_S = 10


@require_GET
@cluster_view()
@shared_page
def group_list(request: ConsoleRequest) -> TemplateResponse:
    """Groups with state, protocol, members, topics, lag and time lag; search, state filter,
    sort by header, pages; the rows refresh themselves (the ``rows`` partial)."""
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
        page=int_param(request.GET.get("page"), 1),
    )
    return TemplateResponse(
        request,
        partial(request, "groups/group_list.html", "rows"),
        {
            "cluster": request.cluster,
            "page": page,
            "q": q,
            "state": state,
            "states": STATES,
            "sort_links": sort_links(request, SORTS, page.sort, page.desc),
            "page_links": page_links(request, page.page, page.pages),
            "updated_at": timezone.now(),
            "refresh_s": REFRESH_S,
        },
    )


@require_GET
@cluster_view()
@shared_page
def group_detail(request: ConsoleRequest, group: str) -> TemplateResponse:
    """Lag and time lag per partition with its owner, members, diagnostics and lag history.

    htmx polls two partials: ``lag`` (Kafka's figures, every REFRESH_S) and ``history`` (the
    sampler's, from the database, as often as it samples)."""
    span = request.GET.get("range", "")
    span = span if span in HISTORY_RANGES else next(iter(HISTORY_RANGES))
    context = {
        "cluster": request.cluster,
        "group": group,
        "ranges": HISTORY_RANGES,
        "updated_at": timezone.now(),
        "refresh_s": REFRESH_S,
        "sample_s": settings.CONSOLE_LAG_SAMPLE_S,
        "history_hours": settings.CONSOLE_LAG_HISTORY_HOURS,
    }
    if request.htmx.target == "history":
        context["history"] = lag_history_get(cluster=request.cluster, group_id=group, span=span)
        return TemplateResponse(request, "groups/group_detail.html#history", context)
    context["detail"] = group_detail_get(cluster=request.cluster, group_id=group)
    if not request.htmx:
        context["history"] = lag_history_get(cluster=request.cluster, group_id=group, span=span)
        context["resets"] = AuditEntry.objects.filter(
            cluster=request.cluster.name, action="group.reset", target=group, outcome="ok"
        )[:5]
        context["form"] = ResetForm(initial={"target": "earliest"})
    return TemplateResponse(request, partial(request, "groups/group_detail.html", "lag"), context)


# The reset confirmation: a signed copy of the preview (salted for this one purpose).
CONFIRM_SALT = "groups.reset.confirm"
CONFIRM_MAX_AGE_S = 3600


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def group_reset(request: ConsoleRequest, group: str) -> HttpResponse:
    """GET: the preview of a reset (nothing changes). POST: confirm exactly that preview; a
    Celery task commits its offsets.

    Invalid input answers 400 with the form and its errors, as a page or (htmx) the
    ``reset`` fragment. The confirmation applies the offsets the preview showed (carried,
    signed, in the form), never a recalculation: a changed group or partition answers 409
    with a fresh preview, an altered or missing confirmation 400.
    """
    form = ResetForm(request.GET if request.GET or request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        return _confirm(
            request,
            group,
            origin={"request": request.GET.dict()},
            fresh=lambda **kw: _reset_page(request, group, form=form, **kw),
        )
    return _reset_page(request, group, form=form)


def _reset_page(
    request: ConsoleRequest,
    group: str,
    *,
    form: ResetForm | None,
    undo: AuditEntry | None = None,
    problem: str = "",
    status: int = 200,
) -> TemplateResponse:
    """The reset (or undo) page with a fresh preview when the input is valid, its signed
    confirmation, and `problem` (why a confirmation was refused) above it."""
    plan = None
    if undo is not None:
        before = parse_offsets(undo.before or {})
        spec = ResetSpec(target="undo", offsets=tuple(sorted(before.items())))
        plan = services.reset_plan(cluster=request.cluster, group_id=group, spec=spec)
        origin: dict = {"undo_of": undo.id}
    elif form is not None and form.is_valid():
        try:
            plan = services.reset_plan(cluster=request.cluster, group_id=group, spec=form.spec())
        except InvalidRequest as exc:
            form.add_error(None, str(exc))
            plan = None
        origin = {"request": request.GET.dict()}
    refusal = services.refusal_for(request.cluster, group) if plan else ""
    context = {
        "cluster": request.cluster,
        "group": group,
        "form": form,
        "plan": plan,
        "refusal": refusal,
        "problem": problem,
        "undo": undo,
        "confirmation": _confirmation_sign(request, group, plan, origin)
        if plan and plan.rows and not refusal
        else "",
    }
    if undo is not None:
        context["no_commit_before"] = sorted(k for k, v in (undo.before or {}).items() if v is None)
    if form is not None and form.is_bound and not form.is_valid():
        status = 400
    template = "groups/group_reset.html"
    return TemplateResponse(
        request, template if undo else partial(request, template, "reset"), context, status=status
    )


def _confirmation_sign(request: ConsoleRequest, group: str, plan, origin: dict) -> str:
    """The confirm form's hidden field: the previewed offsets per partition, bound to this
    cluster, group and choice, to the fingerprint of the offsets the group had committed,
    and to a one-time id (the same preview confirmed twice is refused)."""
    return signing.dumps(
        {
            "cluster": request.cluster.name,
            "group": group,
            "origin": origin,
            "offsets": plan.offsets,
            "before": plan.before,
            "seen": plan.seen_offsets,
            "once": secrets.token_urlsafe(12),
        },
        salt=CONFIRM_SALT,
        compress=True,
    )


def _confirm(request: ConsoleRequest, group: str, *, origin: dict, fresh) -> HttpResponse:
    """Queue exactly the previewed offsets the POST carries, or answer why not with a fresh
    preview (`fresh(problem=..., status=...)`): 400 when the confirmation is missing, altered
    or for another preview; 409 when it is stale, used already, or the group or its
    partitions changed since the preview."""
    token = request.POST.get("plan", "")
    if not token:
        return fresh(
            problem="This confirmation carries no preview, so nothing was changed: check the "
            "preview below and confirm it from there.",
            status=400,
        )
    try:
        seen = signing.loads(token, salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE_S)
    except signing.SignatureExpired:
        return fresh(
            problem="That preview is more than an hour old, so nothing was changed: check "
            "the new one below and confirm again.",
            status=409,
        )
    except signing.BadSignature:
        return fresh(
            problem="This confirmation was altered or does not come from this console's "
            "preview, so nothing was changed: check the preview below and confirm it.",
            status=400,
        )
    if (seen.get("cluster"), seen.get("group"), seen.get("origin")) != (
        request.cluster.name,
        group,
        origin,
    ):
        return fresh(
            problem="This confirmation belongs to another preview (another cluster, group or "
            "choice), so nothing was changed: check the preview below.",
            status=400,
        )
    offsets = parse_offsets(seen["offsets"])
    earlier = Job.objects.filter(
        kind="group.reset",
        cluster=request.cluster.name,
        target=group,
        params__confirmation=seen["once"],
    ).first()
    if earlier is not None:
        return fresh(
            problem=f"This preview was confirmed already (job {earlier.id}, "
            f"{earlier.get_state_display()}); it is not applied twice. Below is a fresh preview.",
            status=409,
        )
    refusal = services.refusal_for(request.cluster, group)
    if refusal:
        messages.error(request, refusal)
        return redirect(request.get_full_path())
    if not offsets:
        return fresh(problem="Nothing to reset: the preview has no partition.", status=400)
    problem = services.reset_confirm_problem(
        cluster=request.cluster, group_id=group, offsets=offsets, seen_offsets=seen["seen"]
    )
    if problem:
        return fresh(problem=problem, status=409)
    job = job_create(
        kind="group.reset",
        cluster=request.cluster.name,
        target=group,
        user=request.user,
        params={
            **origin,
            "offsets": seen["offsets"],
            "before": seen["before"],
            "seen_offsets": seen["seen"],
            "confirmation": seen["once"],
        },
    )
    job_enqueue(group_offsets_reset, job)
    return redirect("console:job", job_id=job.id)


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def group_undo(request: ConsoleRequest, group: str, audit_id: int) -> HttpResponse:
    """Reset back to the offsets a recorded reset found: a preview first, then exactly that
    preview confirmed, like any reset."""
    entry = get_object_or_404(
        AuditEntry,
        id=audit_id,
        cluster=request.cluster.name,
        action="group.reset",
        target=group,
        outcome="ok",
    )
    if not parse_offsets(entry.before or {}):
        raise Http404("That reset recorded no earlier offsets to return to.")
    if request.method == "POST":
        return _confirm(
            request,
            group,
            origin={"undo_of": entry.id},
            fresh=lambda **kw: _reset_page(request, group, form=None, undo=entry, **kw),
        )
    return _reset_page(request, group, form=None, undo=entry)


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
    """The groups that have committed offsets on a topic, with their lag and time lag on it."""
    rows = topic_consumers_for(cluster=request.cluster, topic=topic)
    return TemplateResponse(
        request,
        partial(request, "groups/for_topic.html", "rows"),
        {"cluster": request.cluster, "topic": topic, "rows": rows, "tab": "consumers"},
    )
