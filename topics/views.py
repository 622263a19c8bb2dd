"""Topic pages: list, create, detail (partitions), configs, skew, and the operations."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability, can, role_of
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import InvalidRequest
from console.kafka.topics import broker_defaults
from console.messages.masking import rules_for
from console.shared_pages import shared_page
from console.web import ConsoleRequest, cluster_view, int_param, page_links, sort_links
from topics import services
from topics.forms import (
    ConfigConfirmForm,
    ConfigEditForm,
    PartitionsAddForm,
    PartitionsConfirmForm,
    PurgeConfirmForm,
    PurgeForm,
    TopicCreateForm,
    TopicDeleteForm,
)
from topics.selectors import (
    SORTS,
    topic_config_table,
    topic_detail_get,
    topic_list_for,
    topic_rate_get,
    topic_skew_get,
)
from topics.services import PlanRefused, PreviewStale

T = TypeVar("T")

# Live parts (the topic list, a topic's partitions) refresh themselves this often, while the
# tab is visible and no form on the page has focus.
REFRESH_S = 10


def _live_partial(request: ConsoleRequest, template: str, name: str) -> str:
    """The page, or its `name` partial for an htmx request; the whole page when htmx
    restores history it had not cached (back to a pushed URL after a reload)."""
    if request.htmx and not request.htmx.history_restore_request:
        return f"{template}#{name}"
    return template


@require_GET
@cluster_view()
@shared_page
def topic_list(request: ConsoleRequest) -> TemplateResponse:
    """Topics, searchable as you type, sortable by any column (size on disk included), paged
    on the server; search, sort and page live in the URL and the rows refresh themselves."""
    q = request.GET.get("q", "").strip()[:249]
    internal = request.GET.get("internal") == "1"
    sort = request.GET.get("sort", "name")
    desc = request.GET.get("desc") == "1"
    page = topic_list_for(
        cluster=request.cluster,
        q=q,
        internal=internal,
        sort=sort if sort in SORTS else "name",
        desc=desc,
        page=int_param(request.GET.get("page"), 1),
    )
    return TemplateResponse(
        request,
        _live_partial(request, "topics/topic_list.html", "rows"),
        {
            "cluster": request.cluster,
            "page": page,
            "q": q,
            "internal": internal,
            "sorts": SORTS,
            "sort_links": sort_links(request, SORTS, page.sort, page.desc),
            "page_links": page_links(request, page.page, page.pages),
            "updated_at": timezone.now(),
            "refresh_s": REFRESH_S,
        },
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.OPERATE)
def topic_create(request: ConsoleRequest) -> HttpResponse:
    """Create a topic; defaults are the cluster's num.partitions and replication factor."""
    snap = cluster_snapshot(request.cluster)
    existing = {t.name for t in snap.topics}
    live = sum(b.online for b in snap.brokers)
    if request.method == "POST":
        form = TopicCreateForm(request.POST, existing=existing, live_brokers=live)
        if form.is_valid() and _created(request, form):
            messages.success(request, f"Topic {form.cleaned_data['name']} created.")
            return redirect("topics:detail", request.cluster.name, form.cleaned_data["name"])
    else:
        defaults = broker_defaults(request.cluster)
        form = TopicCreateForm(
            initial={
                "partitions": int_param(defaults.get("num.partitions"), 1),
                "replication": min(
                    int_param(defaults.get("default.replication.factor"), 1), live or 1
                ),
            }
        )
    return TemplateResponse(
        request,
        "topics/topic_create.html",
        {"cluster": request.cluster, "form": form, "live_brokers": live},
        status=400 if request.method == "POST" else 200,
    )


def _created(request: ConsoleRequest, form: TopicCreateForm) -> bool:
    """Create the topic the valid form describes; the broker's refusal goes to the form."""
    d = form.cleaned_data
    try:
        services.topic_create(
            user=request.user,
            cluster=request.cluster,
            name=d["name"],
            partitions=d["partitions"],
            replication=d["replication"],
            configs=d["configs"],
        )
    except InvalidRequest as exc:
        form.add_error("configs" if "config" in str(exc).lower() else None, str(exc))
        return False
    return True


@require_GET
@cluster_view()
@shared_page
def topic_detail(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Figures, messages in/s over the last hour, and the partitions: leader, replicas,
    in-sync replicas (out-of-sync marked), watermarks, size on disk. The `partitions`
    partial (all of it) refreshes itself."""
    detail = topic_detail_get(cluster=request.cluster, topic=topic, sizes=True)
    rate = topic_rate_get(cluster=request.cluster, topic=topic)
    return TemplateResponse(
        request,
        _live_partial(request, "topics/topic_detail.html", "partitions"),
        {
            "cluster": request.cluster,
            "topic": topic,
            "detail": detail,
            "rate": rate,
            "chart": rate.chart_data(),
            "tab": "detail",
            "updated_at": timezone.now(),
            "refresh_s": REFRESH_S,
        },
    )


@require_GET
@cluster_view()
def topic_configs(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Every config, humanised, changed from default first; `q` filters by name, `changed`
    shows only the changed ones. Admins change one from its row (through the preview)."""
    q = request.GET.get("q", "").strip()[:200]
    changed = request.GET.get("changed") == "1"
    table = topic_config_table(cluster=request.cluster, topic=topic, q=q, only_changed=changed)
    return TemplateResponse(
        request,
        _live_partial(request, "topics/topic_configs.html", "configs"),
        {
            "cluster": request.cluster,
            "topic": topic,
            "table": table,
            "q": q,
            "changed": changed,
            "tab": "configs",
        },
    )


@require_GET
@cluster_view()
def topic_skew(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Share of messages and bytes per partition, hot partitions and their top keys."""
    sample = min(max(int_param(request.GET.get("sample"), 500), 10), 5000)
    skew = topic_skew_get(
        cluster=request.cluster,
        topic=topic,
        sample=sample,
        show_keys=can(request.user, Capability.READ_MESSAGES),
        mask_rules=rules_for(request.cluster, topic, role_of(request.user)),
    )
    return TemplateResponse(
        request,
        _live_partial(request, "topics/topic_skew.html", "skew"),
        {"cluster": request.cluster, "topic": topic, "skew": skew, "tab": "skew"},
    )


# --- operations: each a preview (GET, changes nothing), then a confirmation (POST) ---------
#
# A POST carries what its preview saw; an empty or partial one is the form again (400), a
# topic that changed since the preview is a fresh preview with the reason (409).


@require_GET
@cluster_view(Capability.ADMIN)
def topic_operations(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Add partitions, purge records, delete the topic: each opens its preview first."""
    detail = topic_detail_get(cluster=request.cluster, topic=topic)
    return _op_page(
        request,
        topic,
        "topics/ops/operations.html",
        detail=detail,
        partitions_form=PartitionsAddForm(),
        purge_form=PurgeForm(),
    )


def _op_page(
    request: ConsoleRequest, topic: str, template: str, status: int = 200, **context
) -> TemplateResponse:
    context = {"cluster": request.cluster, "topic": topic, "tab": "operations", **context}
    return TemplateResponse(request, template, context, status=status)


def _plan(form, make_plan: Callable[[], T]) -> T | None:
    """The plan for a valid choice; None (the reason by its field) for an invalid one."""
    if not (form.is_bound and form.is_valid()):
        return None
    try:
        return make_plan()
    except PlanRefused as exc:
        form.add_error(exc.field, str(exc))
        return None


def _choice(request: ConsoleRequest):
    """The operation's parameters: posted with the confirmation, or the preview's query
    (None without one: the empty form, not an error)."""
    return request.POST if request.method == "POST" else request.GET or None


def _status(form, plan) -> int:
    """400 for a choice that could not be previewed; 200 for a preview or the empty form."""
    return 400 if form.is_bound and plan is None else 200


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
def topic_purge(request: ConsoleRequest, topic: str) -> HttpResponse:
    """GET: per partition, the records a purge would delete (nothing changes). POST: delete
    exactly those, once the topic's name is typed."""
    confirm = PurgeConfirmForm(request.POST if request.method == "POST" else None, name=topic)
    problem, status = "", 0
    if request.method == "POST":
        if confirm.is_valid():
            try:
                lows = services.topic_records_purge(
                    user=request.user,
                    cluster=request.cluster,
                    name=topic,
                    below=confirm.cleaned_data["below"],
                    seen_partitions=confirm.cleaned_data["seen_partitions"],
                    offset=confirm.plan_args["offset"],
                )
            except PreviewStale as exc:
                problem, status = str(exc), 409
                confirm = PurgeConfirmForm(name=topic)  # type the name again, for the new preview
            else:
                messages.success(
                    request,
                    "Records deleted; partitions now start at "
                    + ", ".join(f"{p}:{low}" for p, low in sorted(lows.items())),
                )
                return redirect("topics:detail", request.cluster.name, topic)
        else:
            status = 400
    form = PurgeForm(_choice(request))
    plan = _plan(
        form,
        lambda: services.topic_purge_plan(cluster=request.cluster, topic=topic, **form.plan_args),
    )
    return _op_page(
        request,
        topic,
        "topics/ops/purge.html",
        status or _status(form, plan),
        form=form,
        plan=plan,
        confirm=confirm,
        problem=problem,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
def topic_delete(request: ConsoleRequest, topic: str) -> HttpResponse:
    """GET: what deleting the topic takes with it (nothing changes). POST: delete it, once
    its name is typed."""
    confirm = TopicDeleteForm(request.POST if request.method == "POST" else None, name=topic)
    problem, status = "", 200
    if request.method == "POST":
        if confirm.is_valid():
            try:
                services.topic_delete(
                    user=request.user,
                    cluster=request.cluster,
                    name=topic,
                    seen_partitions=confirm.cleaned_data["seen_partitions"],
                )
            except PreviewStale as exc:
                problem, status = str(exc), 409
                confirm = TopicDeleteForm(name=topic)
            else:
                messages.success(request, f"Topic {topic} deleted.")
                return redirect("topics:list", request.cluster.name)
        else:
            status = 400
    plan = services.topic_delete_plan(cluster=request.cluster, topic=topic)
    return _op_page(
        request,
        topic,
        "topics/ops/delete.html",
        status,
        plan=plan,
        confirm=confirm,
        problem=problem,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
def topic_partitions_add(request: ConsoleRequest, topic: str) -> HttpResponse:
    """GET: partition count before and after, and the sampled keys that would move (nothing
    changes). POST: add them."""
    problem, status = "", 0
    if request.method == "POST":
        confirm = PartitionsConfirmForm(request.POST)
        if confirm.is_valid():
            total = confirm.cleaned_data["total"]
            try:
                services.topic_partitions_add(
                    user=request.user,
                    cluster=request.cluster,
                    name=topic,
                    total=total,
                    seen_partitions=confirm.cleaned_data["seen_partitions"],
                )
            except PreviewStale as exc:
                problem, status = str(exc), 409
            else:
                messages.success(request, f"{topic} now has {total} partitions.")
                return redirect("topics:detail", request.cluster.name, topic)
        else:
            problem, status = " ".join(confirm.non_field_errors()), 400
    form = PartitionsAddForm(_choice(request))
    plan = _plan(
        form,
        lambda: services.topic_partitions_plan(
            cluster=request.cluster, topic=topic, total=form.cleaned_data["total"]
        ),
    )
    return _op_page(
        request,
        topic,
        "topics/ops/partitions.html",
        status or _status(form, plan),
        form=form,
        plan=plan,
        problem=problem,
    )


@require_http_methods(["GET", "POST"])
@cluster_view(Capability.ADMIN)
def topic_config_edit(request: ConsoleRequest, topic: str) -> HttpResponse:
    """GET: the config's old value -> new value (or its default, for a reset); the broker
    validates it, nothing changes. POST: apply it."""
    problem, status = "", 0
    if request.method == "POST":
        confirm = ConfigConfirmForm(request.POST)
        if confirm.is_valid():
            key = confirm.cleaned_data["name"]
            try:
                services.topic_config_set(
                    user=request.user,
                    cluster=request.cluster,
                    name=topic,
                    key=key,
                    value=confirm.new_value,
                    seen_value=confirm.cleaned_data["seen_value"],
                )
            except PreviewStale as exc:
                problem, status = str(exc), 409
            except InvalidRequest as exc:
                problem, status = str(exc), 400
            else:
                done = "reset to its default." if confirm.new_value is None else "updated."
                messages.success(request, f"{key} {done}")
                return redirect("topics:configs", request.cluster.name, topic)
        else:
            problem, status = " ".join(confirm.non_field_errors()), 400
    form = ConfigEditForm(_choice(request))
    plan = _plan(
        form,
        lambda: services.topic_config_plan(
            cluster=request.cluster,
            topic=topic,
            key=form.cleaned_data["name"],
            value=form.new_value,
        ),
    )
    return _op_page(
        request,
        topic,
        "topics/ops/config.html",
        status or _status(form, plan),
        form=form,
        plan=plan,
        problem=problem,
        tab="configs",
    )
