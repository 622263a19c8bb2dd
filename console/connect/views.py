"""Kafka Connect pages: Connect clusters, connectors, a connector, and its operations.

Every operation is a GET that previews it (nothing changes) and a POST that confirms it;
the services check the role, refuse read-only clusters and audit. A Connect worker that is
down or slow shows as a visible panel within CONSOLE_CONNECT_TIMEOUT_S, never a 500.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from console.access import Capability, CapabilityDenied, can, require
from console.audit import audit_record
from console.clusters import ConnectCluster
from console.connect import services
from console.connect.client import (
    ConnectError,
    ConnectNotFound,
    ConnectRefused,
    ConnectUnavailable,
    timeout_s,
)
from console.web import ConsoleRequest, cluster_view, partial

REFRESH_S = 10
# Sortable columns of the connector list: URL value -> key.
SORTS: dict[str, Callable] = {
    "name": lambda c: c.name,
    "state": lambda c: (c.state, c.name),
    "type": lambda c: (c.type, c.name),
    "class": lambda c: (c.short_class, c.name),
    "running": lambda c: (c.running_tasks, c.name),
    "failed": lambda c: (c.failed_tasks, c.name),
}


COLUMNS = (
    ("name", "Connector", ""),
    ("state", "State", ""),
    ("type", "Type", ""),
    ("class", "Class", ""),
    ("running", "Tasks running", "num"),
    ("failed", "Tasks failed", "num"),
)


def connect_view(
    capability: Capability = Capability.VIEW,
    needs: Callable[[dict], Capability | None] | None = None,
) -> Callable:
    """cluster_view, plus: the role `needs(url kwargs)` asks (checked first, a refused POST
    audited), the ``connect`` argument resolved to request.connect (404 if not configured),
    and Connect being down or slow shown as a page with a panel (503)."""

    def decorator(view: Callable) -> Callable:
        @cluster_view(capability)
        @functools.wraps(view)
        def wrapper(request: ConsoleRequest, connect: str, *args: Any, **kwargs: Any):
            needed = needs(kwargs) if needs else None
            if needed is not None:
                try:
                    require(request.user, needed)
                except CapabilityDenied as exc:
                    if request.method == "POST":
                        audit_record(
                            user=request.user,
                            cluster=request.cluster.name,
                            action=f"connect.{kwargs.get('verb', '')}",
                            target=f"{connect}/{kwargs.get('name', '')}",
                            outcome="denied",
                            detail=str(exc),
                        )
                    raise
            found = request.cluster.connect_cluster(connect)
            if found is None:
                raise Http404(
                    f"Cluster {request.cluster.name} has no Kafka Connect cluster named "
                    f"{connect!r}."
                )
            request.connect = found
            try:
                return view(request, *args, **kwargs)
            except ConnectUnavailable as exc:
                return _unavailable(request, found, exc)
            except ConnectNotFound as exc:
                raise Http404(f"Kafka Connect {found.name!r}: {exc}") from None
            except ConnectRefused as exc:  # e.g. a rebalance in progress: say so, no 500
                return _unavailable(request, found, exc, status=502)

        return wrapper

    return decorator


def _unavailable(
    request: ConsoleRequest, connect: ConnectCluster, exc: ConnectError, status: int = 503
):
    return TemplateResponse(
        request,
        "connect/unavailable.html",
        {
            "cluster": request.cluster,
            "connect": connect,
            "error": str(exc),
            "timeout": timeout_s(),
            "status": status,
        },
        status=status,
    )


@require_GET
@cluster_view()
def connect_index(request: ConsoleRequest) -> HttpResponse:
    """The cluster's Connect clusters; with exactly one, its connectors straight away."""
    clusters = request.cluster.connect
    if len(clusters) == 1:
        return redirect("connect:list", request.cluster.name, clusters[0].name)
    return TemplateResponse(
        request, "connect/connect_index.html", {"cluster": request.cluster, "clusters": clusters}
    )


@require_GET
@connect_view()
def connector_list(request: ConsoleRequest) -> TemplateResponse:
    """Connectors with state, type, class and task counts; the rows refresh themselves."""
    q = request.GET.get("q", "").strip()[:255]
    rows = services.connector_list_for(cluster=request.cluster, connect=request.connect)
    total = len(rows)
    if q:
        rows = [
            c for c in rows if q.lower() in c.name.lower() or q.lower() in c.connector_class.lower()
        ]
    sort = request.GET.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    desc = request.GET.get("desc") == "1"
    rows = sorted(rows, key=SORTS[sort], reverse=desc)
    states: dict[str, int] = {}
    for c in rows:
        states[c.state] = states.get(c.state, 0) + 1
    columns = []  # (key, header, css class, the link a click on the header follows)
    for key, label, css in COLUMNS:
        params = request.GET.copy()
        params["sort"] = key
        params.pop("desc", None)
        if key == sort and not desc:
            params["desc"] = "1"
        columns.append((key, label, css, "?" + params.urlencode()))
    return TemplateResponse(
        request,
        partial(request, "connect/connector_list.html", "rows"),
        {
            "cluster": request.cluster,
            "connect": request.connect,
            "connectors": rows,
            "total": total,
            "states": states,
            "failed_tasks": sum(c.failed_tasks for c in rows),
            "q": q,
            "sort": sort,
            "desc": desc,
            "columns": columns,
            "can_operate": can(request.user, Capability.OPERATE),
            "updated_at": timezone.now(),
            "refresh_s": REFRESH_S,
        },
    )


@require_GET
@connect_view()
def connector_detail(request: ConsoleRequest, name: str) -> TemplateResponse:
    """Config, tasks (state, worker, the full trace of a failure), topics, group, offsets."""
    page = services.connector_page_get(cluster=request.cluster, connect=request.connect, name=name)
    return TemplateResponse(
        request,
        partial(request, "connect/connector_detail.html", "live"),
        {
            "updated_at": timezone.now(),
            "refresh_s": REFRESH_S,
            "cluster": request.cluster,
            "connect": request.connect,
            "page": page,
            "c": page.connector,
            "actions": services.ACTIONS,
            "can_operate": can(request.user, Capability.OPERATE),
            "can_admin": can(request.user, Capability.ADMIN),
        },
    )


def _config_from(request: ConsoleRequest) -> tuple[dict[str, str], str]:
    text = request.POST.get("config", "")
    try:
        return services.parse_config(text), ""
    except ValueError as exc:
        return {}, str(exc)


@require_http_methods(["GET", "POST"])
@connect_view(Capability.OPERATE)
def connector_create(request: ConsoleRequest) -> HttpResponse:
    """Pick a plugin, write the config; the worker validates it field by field (step
    "validate"), and only a config it accepts can be created (step "create")."""
    plugins = services.client_for(request.connect).plugins()
    context: dict[str, Any] = {
        "cluster": request.cluster,
        "connect": request.connect,
        "plugins": plugins,
        "name": request.POST.get("name", "").strip() if request.method == "POST" else "",
        "klass": request.POST.get("klass", request.GET.get("klass", "")),
        "config_text": request.POST.get("config", ""),
        "errors": {},
        "validation": None,
    }
    if request.method == "GET":
        if not context["klass"] and plugins:
            context["klass"] = plugins[0].klass
        context["config_text"] = _starter(context["klass"])
        return TemplateResponse(request, "connect/connector_create.html", context)
    config, problem = _config_from(request)
    errors: dict[str, str] = {}
    if problem:
        errors["config"] = problem
    if not context["name"]:
        errors["name"] = "Give the connector a name."
    elif "/" in context["name"] or len(context["name"]) > 200:
        errors["name"] = "A connector name has at most 200 characters and no '/'."
    if context["klass"] not in {p.klass for p in plugins}:
        errors["klass"] = "Choose one of the worker's connector plugins."
    context["errors"] = errors
    if errors:
        return TemplateResponse(request, "connect/connector_create.html", context, status=400)
    config = {**config, "connector.class": context["klass"]}
    try:
        validation = services.config_validate(
            connect=request.connect, klass=context["klass"], name=context["name"], config=config
        )
    except ConnectRefused as exc:
        context["errors"] = {"config": str(exc)}
        return TemplateResponse(request, "connect/connector_create.html", context, status=400)
    context["validation"] = validation
    context["shown_fields"] = [
        f for f in validation.fields if f.errors or f.name in config or f.required
    ]
    if request.POST.get("step") != "create" or validation.error_count:
        status = 400 if validation.error_count else 200
        return TemplateResponse(request, "connect/connector_create.html", context, status=status)
    try:
        services.connector_create(
            user=request.user,
            cluster=request.cluster,
            connect=request.connect,
            name=context["name"],
            config=config,
        )
    except ConnectRefused as exc:
        context["problem"] = str(exc)
        return TemplateResponse(request, "connect/connector_create.html", context, status=409)
    messages.success(request, f"Connector {context['name']} created.")
    return redirect("connect:detail", request.cluster.name, request.connect.name, context["name"])


def _starter(klass: str) -> str:
    """A config to start from, for the file connectors the tests and demo use."""
    if klass.endswith("FileStreamSourceConnector"):
        return "tasks.max=1\nfile=/path/to/input.txt\ntopic=my-topic\n"
    if klass.endswith("FileStreamSinkConnector"):
        return "tasks.max=1\nfile=/path/to/output.txt\ntopics=my-topic\n"
    return "tasks.max=1\n"


def _digest(config: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:20]


@require_http_methods(["GET", "POST"])
@connect_view(Capability.ADMIN)
def connector_edit(request: ConsoleRequest, name: str) -> HttpResponse:
    """Edit a connector's config: step "preview" shows the change key by key and the worker's
    validation; step "confirm" applies exactly that, unless the config changed meanwhile."""
    client = services.client_for(request.connect)
    current = client.connector(name)
    context: dict[str, Any] = {
        "cluster": request.cluster,
        "connect": request.connect,
        "c": current,
        "errors": {},
    }
    if request.method == "GET":
        context["config_text"] = "".join(
            f"{k}={v}\n" for k, v in sorted(current.config.items()) if k != "name"
        )
        return TemplateResponse(request, "connect/connector_edit.html", context)
    context["config_text"] = request.POST.get("config", "")
    config, problem = _config_from(request)
    if problem:
        context["errors"] = {"config": problem}
        return TemplateResponse(request, "connect/connector_edit.html", context, status=400)
    config = {**config, "name": name}
    config.setdefault("connector.class", current.connector_class)
    validation = services.config_validate(
        connect=request.connect, klass=config["connector.class"], name=name, config=config
    )
    context.update(
        validation=validation,
        diff=services.config_diff(current.config, config),
        seen=_digest(current.config),
    )
    if request.POST.get("step") != "confirm" or validation.error_count or not context["diff"]:
        status = 400 if validation.error_count else 200
        return TemplateResponse(request, "connect/connector_edit.html", context, status=status)
    if request.POST.get("seen") != context["seen"]:
        context["problem"] = (
            "The connector's config changed since your preview, so nothing was changed: "
            "check the new preview below and confirm again."
        )
        return TemplateResponse(request, "connect/connector_edit.html", context, status=409)
    try:
        services.connector_config_update(
            user=request.user,
            cluster=request.cluster,
            connect=request.connect,
            name=name,
            config=config,
        )
    except ConnectRefused as exc:
        context["problem"] = str(exc)
        return TemplateResponse(request, "connect/connector_edit.html", context, status=409)
    messages.success(request, f"Connector {name}: config updated ({len(context['diff'])} key(s)).")
    return redirect("connect:detail", request.cluster.name, request.connect.name, name)


def _action_needs(kwargs: dict) -> Capability | None:
    action = services.ACTIONS.get(kwargs.get("verb", ""))
    return action.capability if action else None


@require_http_methods(["GET", "POST"])
@connect_view(needs=_action_needs)
def connector_action(
    request: ConsoleRequest, name: str, verb: str, task: int | None = None
) -> HttpResponse:
    """GET: what `verb` would do to the connector now (nothing changes). POST: do it."""
    action = services.ACTIONS.get(verb)
    if action is None or (verb == "task-restart") != (task is not None):
        raise Http404(f"No connector operation {verb!r}.")
    client = services.client_for(request.connect)
    current = client.connector(name)
    if task is not None and all(t.id != task for t in current.tasks):
        raise Http404(f"Connector {name} has no task {task}.")
    refusal = ""
    if action.needs_state and current.state not in action.needs_state:
        refusal = (
            f"{action.label} needs the connector {' or '.join(action.needs_state)}; it is "
            f"{current.state}. Stop it first (its tasks shut down, its config stays)."
        )
    offsets = None
    if verb in ("reset-offsets", "delete"):
        try:
            offsets = services.offsets_shown(client.offsets(name))
        except ConnectRefused:
            offsets = None
    context = {
        "cluster": request.cluster,
        "connect": request.connect,
        "c": current,
        "action": action,
        "verb": verb,
        "task": task,
        "refusal": refusal,
        "offsets": offsets,
        "problem": "",
    }
    if request.method == "GET":
        return TemplateResponse(request, "connect/connector_action.html", context)
    if action.danger and request.POST.get("confirm", "") != name:
        context["problem"] = f"Type the connector's name, {name}, to confirm."
        return TemplateResponse(request, "connect/connector_action.html", context, status=400)
    try:
        said = services.connector_act(
            user=request.user,
            cluster=request.cluster,
            connect=request.connect,
            name=name,
            verb=verb,
            task=task,
        )
    except PermissionDenied:
        raise
    except ConnectRefused as exc:
        context["problem"] = str(exc)
        return TemplateResponse(request, "connect/connector_action.html", context, status=409)
    what = f"task {task} of {name}" if task is not None else name
    messages.success(request, f"{action.label}: {what} — done.{(' ' + said) if said else ''}")
    if verb == "delete":
        return redirect("connect:list", request.cluster.name, request.connect.name)
    return redirect("connect:detail", request.cluster.name, request.connect.name, name)
