"""Cluster-level pages: clusters, brokers, broker configs, audit log, jobs."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console import brokers
from console.access import Capability, can, cluster_roles, require
from console.audit_page import audit_choices, audit_filter, audit_rows, page_query
from console.clusters import all_clusters, get_cluster
from console.dashboard import cluster_cards_get, cluster_dashboard_get, rate_chart_data
from console.forms import AuditFilterForm
from console.job_report import job_report
from console.jobs import job_cancel, job_create, job_enqueue
from console.kafka.errors import InvalidRequest
from console.models import AuditEntry, Job
from console.shared_pages import shared_page
from console.tasks import cluster_probe
from console.web import ConsoleRequest, cluster_view, partial

# Seconds between the self-refreshes of the dashboards (while the tab is visible).
CLUSTERS_REFRESH_S = 15
OVERVIEW_REFRESH_S = 10
AUDIT_PAGE_SIZE = 50


@require_GET
def home(request: ConsoleRequest) -> HttpResponse:
    return redirect("console:clusters")


@require_GET
def cluster_list(request: ConsoleRequest) -> TemplateResponse:
    """A card per cluster: health fetched in parallel within the request timeout, and the
    messages in/s of the throughput sampler."""
    visible = [c for c in all_clusters() if can(request.user, Capability.VIEW, c.name)]
    if not visible:
        require(request.user, Capability.VIEW)  # a 403 that says which role is needed
    cards = cluster_cards_get(clusters=visible)
    return TemplateResponse(
        request,
        partial(request, "console/cluster_list.html", "clusters"),
        {
            "cards": cards,
            "now": timezone.now(),
            "refresh_s": CLUSTERS_REFRESH_S,
            "sample_s": settings.CONSOLE_THROUGHPUT_SAMPLE_S,
        },
    )


@require_GET
@cluster_view()
@shared_page
def cluster_detail(request: ConsoleRequest) -> TemplateResponse:
    """One cluster's dashboard: figures, messages in/s over the last hour, the worst lag,
    recent operations (admins) and the brokers; the `overview` partial refreshes itself."""
    dash = cluster_dashboard_get(cluster=request.cluster, user=request.user)
    return TemplateResponse(
        request,
        partial(request, "console/cluster_detail.html", "overview"),
        {
            "dash": dash,
            "overview": dash.overview,
            "cluster": request.cluster,
            "chart": rate_chart_data(dash),
            "refresh_s": OVERVIEW_REFRESH_S,
        },
    )


@require_http_methods(["GET", "POST"])
@cluster_view()
def broker_detail(request: ConsoleRequest, broker_id: int) -> TemplateResponse:
    """A broker's log dirs (size on disk) and configs, humanised and changed-first; `q`
    filters by name, `changed` hides defaults. Admins change a dynamic config: a GET with
    `name` and `value` (or `reset`) previews it, the POST of that preview applies it."""
    q = request.GET.get("q", "").strip()[:200]
    changed = request.GET.get("changed") == "1"
    problem, status, form = "", 200, None
    if request.method == "POST":
        brokers.broker_config_change_allowed(
            user=request.user, cluster=request.cluster, broker_id=broker_id
        )
        confirm = brokers.BrokerConfigConfirmForm(request.POST)
        if confirm.is_valid():
            key = confirm.cleaned_data["name"]
            try:
                brokers.broker_config_set(
                    user=request.user,
                    cluster=request.cluster,
                    broker_id=broker_id,
                    key=key,
                    value=confirm.new_value,
                    seen_value=confirm.cleaned_data["seen_value"],
                )
            except brokers.PreviewStale as exc:
                problem, status = str(exc), 409
            except InvalidRequest as exc:
                problem, status = str(exc), 400
            else:
                done = "back to its static or default value" if confirm.new_value is None else ""
                messages.success(request, f"{key} {done or 'updated'} on broker {broker_id}.")
                url = reverse("console:broker", args=[request.cluster.name, broker_id])
                return redirect(f"{url}?{urlencode({'q': key})}")
        else:
            problem, status = " ".join(confirm.non_field_errors()) or "Nothing to apply.", 400
        form = brokers.BrokerConfigForm(request.POST)
    elif (
        "name" in request.GET
        and can(request.user, Capability.ADMIN)
        and not request.cluster.read_only
    ):
        form = brokers.BrokerConfigForm(request.GET)
    plan = None
    if form is not None:
        plan = brokers.broker_config_preview(form, cluster=request.cluster, broker_id=broker_id)
        if status == 200 and plan is None:
            status = 400
    configs = brokers.broker_configs_for(
        cluster=request.cluster, broker_id=broker_id, q=q, only_changed=changed
    )
    context = {
        "cluster": request.cluster,
        "broker_id": broker_id,
        "configs": configs,
        "q": q,
        "changed": changed,
        "form": form,
        "plan": plan,
        "problem": problem,
    }
    if request.htmx and not request.htmx.history_restore_request:
        return TemplateResponse(request, "console/broker_detail.html#configs", context)
    context["disk"] = brokers.broker_disk_get(cluster=request.cluster, broker_id=broker_id)
    return TemplateResponse(request, "console/broker_detail.html", context, status=status)


@require_GET
@permission_required(Capability.AUDIT.value, raise_exception=True)
def audit_list(request: ConsoleRequest) -> TemplateResponse:
    """The audit log, newest first, filterable by cluster, action, user, outcome and text;
    the filters and the page are in the URL; the ``entries`` partial is the list alone."""
    form = AuditFilterForm(request.GET or None, **audit_choices())
    form.is_valid()  # an invalid filter is dropped (and marked); the valid ones still apply
    filters = getattr(form, "cleaned_data", {})
    entries = audit_filter(AuditEntry.objects.all(), filters)
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    kept = {k: v for k, v in filters.items() if v}
    pages = {
        "previous": page_query(kept, page.previous_page_number()) if page.has_previous() else "",
        "next": page_query(kept, page.next_page_number()) if page.has_next() else "",
        "first": page_query(kept, 1) if page.number > 1 else "",
    }
    if kept.get("cluster") and get_cluster(kept["cluster"]) is not None:
        request.cluster = get_cluster(kept["cluster"])  # the header's cluster switcher
    return TemplateResponse(
        request,
        partial(request, "console/audit_list.html", "entries"),
        {
            "form": form,
            "page": page,
            "rows": audit_rows(page),
            "filtered": bool(kept),
            "pages": pages,
        },
    )


def _job_for(request: ConsoleRequest, job_id) -> Job:
    if not cluster_roles(request.user):
        require(request.user, Capability.VIEW)  # no role anywhere: refused before any lookup
    job = get_object_or_404(Job, id=job_id)
    require(request.user, Capability.VIEW, job.cluster)
    # A job's report may contain message data: only its author and admins see it.
    if job.created_by_id not in (None, request.user.id) and not request.user.has_perm(
        Capability.ADMIN.value
    ):
        raise Http404("No such job.")
    return job


@require_GET
def job_detail(request: ConsoleRequest, job_id) -> TemplateResponse:
    """A task's progress and final report; the partial polls itself until the job ends."""
    job = _job_for(request, job_id)
    return _job_page(request, job)


@require_POST
def job_cancel_view(request: ConsoleRequest, job_id) -> HttpResponse:
    """Ask the job to stop; answers with its status (the ``status`` partial) for htmx."""
    job = _job_for(request, job_id)
    job_cancel(job.id)
    if not request.htmx:  # a plain form post: back to the page (a reload does not re-post)
        return redirect("console:job", job_id=job.id)
    job.refresh_from_db()
    return _job_page(request, job)


def _job_page(request: ConsoleRequest, job: Job) -> TemplateResponse:
    cluster = get_cluster(job.cluster)
    if cluster is not None:
        request.cluster = cluster  # the header's cluster switcher and navigation
    return TemplateResponse(
        request,
        partial(request, "console/job.html", "status"),
        {"job": job, "report": job_report(job)},
    )


@require_POST
@cluster_view()
def worker_check(request: ConsoleRequest) -> HttpResponse:
    """Ask the Celery worker to describe this cluster: shows the worker is alive and connected."""
    job = job_create(kind="cluster_probe", cluster=request.cluster.name, user=request.user)
    job_enqueue(cluster_probe, job)
    return redirect("console:job", job_id=job.id)
