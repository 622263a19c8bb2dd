"""Topic pages: list, create, detail (partitions), configs, skew, and the operations."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from console.access import Capability, can, role_of
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import InvalidRequest
from console.kafka.topics import broker_defaults
from console.messages.masking import rules_for
from console.web import ConsoleRequest, cluster_view, partial
from topics import services
from topics.forms import (
    ConfigEditForm,
    PartitionsAddForm,
    PurgeForm,
    TopicCreateForm,
    TopicDeleteForm,
)
from topics.selectors import (
    SORTS,
    topic_configs_get,
    topic_detail_get,
    topic_list_for,
    topic_skew_get,
)


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


@require_GET
@cluster_view()
def topic_list(request: ConsoleRequest) -> TemplateResponse:
    """Topics, searchable as you type, sortable by any column, paged on the server."""
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
        page=_int(request.GET.get("page"), 1),
    )
    return TemplateResponse(
        request,
        partial(request, "topics/topic_list.html", "rows"),
        {"cluster": request.cluster, "page": page, "q": q, "internal": internal, "sorts": SORTS},
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
        if form.is_valid():
            try:
                services.topic_create(
                    user=request.user,
                    cluster=request.cluster,
                    name=form.cleaned_data["name"],
                    partitions=form.cleaned_data["partitions"],
                    replication=form.cleaned_data["replication"],
                    configs=form.cleaned_data["configs"],
                )
            except InvalidRequest as exc:
                form.add_error("configs" if "config" in str(exc).lower() else None, str(exc))
            else:
                messages.success(request, f"Topic {form.cleaned_data['name']} created.")
                return redirect("topics:detail", request.cluster.name, form.cleaned_data["name"])
    else:
        defaults = broker_defaults(request.cluster)
        form = TopicCreateForm(
            initial={
                "partitions": _int(defaults.get("num.partitions"), 1),
                "replication": min(_int(defaults.get("default.replication.factor"), 1), live or 1),
            }
        )
    return TemplateResponse(
        request,
        "topics/topic_create.html",
        {"cluster": request.cluster, "form": form, "live_brokers": live},
        status=400 if request.method == "POST" else 200,
    )


@require_GET
@cluster_view()
def topic_detail(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Partitions: leader, replicas, in-sync replicas (out-of-sync marked), watermarks."""
    detail = topic_detail_get(cluster=request.cluster, topic=topic)
    return TemplateResponse(
        request,
        partial(request, "topics/topic_detail.html", "partitions"),
        {
            "cluster": request.cluster,
            "topic": topic,
            "detail": detail,
            "tab": "detail",
            "delete_form": TopicDeleteForm(topic=topic),
            "partitions_form": PartitionsAddForm(current=detail.info.partition_count),
            "purge_form": PurgeForm(partitions=detail.info.partition_count),
        },
    )


@require_GET
@cluster_view()
def topic_configs(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Every config with its source; overrides first."""
    return _configs_page(request, topic, ConfigEditForm())


def _configs_page(
    request: ConsoleRequest, topic: str, form: ConfigEditForm, status: int = 200
) -> TemplateResponse:
    configs = topic_configs_get(cluster=request.cluster, topic=topic)
    configs.sort(key=lambda c: (c.source != "topic", c.name))
    return TemplateResponse(
        request,
        partial(request, "topics/topic_configs.html", "configs"),
        {
            "cluster": request.cluster,
            "topic": topic,
            "configs": configs,
            "tab": "configs",
            "form": form,
        },
        status=status,
    )


@require_POST
@cluster_view(Capability.ADMIN)
def topic_config_edit(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Set or remove one override; the broker's validation error is shown by the field."""
    form = ConfigEditForm(request.POST)
    if form.is_valid():
        reset = form.cleaned_data["reset"]
        try:
            services.topic_config_set(
                user=request.user,
                cluster=request.cluster,
                name=topic,
                key=form.cleaned_data["name"],
                value=None if reset else form.cleaned_data["value"],
            )
        except InvalidRequest as exc:
            form.add_error("value", str(exc))
        else:
            messages.success(
                request,
                f"{form.cleaned_data['name']} "
                + ("reset to its default." if reset else "updated."),
            )
            return redirect("topics:configs", request.cluster.name, topic)
    return _configs_page(request, topic, form, status=400)


@require_GET
@cluster_view()
def topic_skew(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Share of messages and bytes per partition, hot partitions and their top keys."""
    sample = min(max(_int(request.GET.get("sample"), 500), 10), 5000)
    skew = topic_skew_get(
        cluster=request.cluster,
        topic=topic,
        sample=sample,
        show_keys=can(request.user, Capability.READ_MESSAGES),
        mask_rules=rules_for(request.cluster, topic, role_of(request.user)),
    )
    return TemplateResponse(
        request,
        partial(request, "topics/topic_skew.html", "skew"),
        {"cluster": request.cluster, "topic": topic, "skew": skew, "tab": "skew"},
    )


def _detail_with(request: ConsoleRequest, topic: str, **forms) -> TemplateResponse:
    detail = topic_detail_get(cluster=request.cluster, topic=topic)
    context = {
        "cluster": request.cluster,
        "topic": topic,
        "detail": detail,
        "tab": "detail",
        "delete_form": TopicDeleteForm(topic=topic),
        "partitions_form": PartitionsAddForm(current=detail.info.partition_count),
        "purge_form": PurgeForm(partitions=detail.info.partition_count),
    }
    context.update(forms)
    return TemplateResponse(request, "topics/topic_detail.html", context, status=400)


@require_POST
@cluster_view(Capability.ADMIN)
def topic_delete(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Delete the topic once its name is typed to confirm."""
    form = TopicDeleteForm(request.POST, topic=topic)
    if not form.is_valid():
        return _detail_with(request, topic, delete_form=form)
    services.topic_delete(user=request.user, cluster=request.cluster, name=topic)
    messages.success(request, f"Topic {topic} deleted.")
    return redirect("topics:list", request.cluster.name)


@require_POST
@cluster_view(Capability.ADMIN)
def topic_partitions_add(request: ConsoleRequest, topic: str) -> HttpResponse:
    detail = topic_detail_get(cluster=request.cluster, topic=topic)
    form = PartitionsAddForm(request.POST, current=detail.info.partition_count)
    if not form.is_valid():
        return _detail_with(request, topic, partitions_form=form)
    services.topic_partitions_add(
        user=request.user, cluster=request.cluster, name=topic, total=form.cleaned_data["total"]
    )
    messages.success(request, f"{topic} now has {form.cleaned_data['total']} partitions.")
    return redirect("topics:detail", request.cluster.name, topic)


@require_POST
@cluster_view(Capability.ADMIN)
def topic_purge(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Delete records below an offset (or all) in one or every partition."""
    detail = topic_detail_get(cluster=request.cluster, topic=topic)
    form = PurgeForm(request.POST, partitions=detail.info.partition_count)
    if form.is_valid():
        p = form.cleaned_data["partition"]
        parts = [p] if p is not None else [r.info.id for r in detail.partitions]
        try:
            lows = services.topic_records_purge(
                user=request.user,
                cluster=request.cluster,
                name=topic,
                partitions=parts,
                offset=form.cleaned_data["offset"],
            )
        except InvalidRequest as exc:
            form.add_error("offset", str(exc))
        else:
            messages.success(
                request,
                "Records deleted; partitions now start at "
                + ", ".join(f"{p}:{low}" for p, low in sorted(lows.items())),
            )
            return redirect(reverse("topics:detail", args=[request.cluster.name, topic]))
    return _detail_with(request, topic, purge_form=form)
