"""Produce page: one message or a generated stream (Celery tasks), with a partition preview."""

from __future__ import annotations

import base64

from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST

from console.access import Capability
from console.audit import mutation
from console.jobs import job_create, job_enqueue
from console.kafka.cluster import cluster_snapshot
from console.kafka.produce import partition_for
from console.messages.schema_registry import registry_for
from console.web import ConsoleRequest, cluster_view
from topics.produce.forms import HEADER_ROWS, GenerateForm, ProduceForm
from topics.produce.services import new_seed
from topics.produce.tasks import events_generate_task, message_produce_task


def _partitions(request: ConsoleRequest, topic: str) -> int:
    (info,) = cluster_snapshot(request.cluster, topic=topic).topics
    return info.partition_count


def _produce_form(request: ConsoleRequest, topic: str, data=None, **kwargs) -> ProduceForm:
    """The one-message form, with the schema field when the cluster has a registry."""
    return ProduceForm(
        data,
        partitions=_partitions(request, topic),
        registry=registry_for(request.cluster.schema_registry_url),
        **kwargs,
    )


def _queue(request: ConsoleRequest, topic: str, task, *, kind: str, params: dict, audit=None):
    """Create the job and send its task, audited as a produce request (the role and a
    read-only cluster are checked here too, so a refusal is immediate and audited; the task
    checks again); then the job page."""
    with mutation(
        user=request.user,
        cluster=request.cluster,
        action="produce.request",
        target=topic,
        capability=Capability.OPERATE,
        params=audit,
    ) as m:
        m.outcome = "queued"
        job = job_create(
            kind=kind, cluster=request.cluster.name, target=topic, user=request.user, params=params
        )
        job_enqueue(task, job)
    return redirect("console:job", job_id=job.id)


def _generate_form(request: ConsoleRequest, **kwargs) -> GenerateForm:
    """The generator form, with the schema field when the cluster has a registry."""
    return GenerateForm(registry=registry_for(request.cluster.schema_registry_url), **kwargs)


def _page(request, topic, produce_form, generate_form, status=200) -> TemplateResponse:
    return TemplateResponse(
        request,
        "topics/produce/produce.html",
        {
            "cluster": request.cluster,
            "topic": topic,
            "tab": "produce",
            "form": produce_form,
            "gen": generate_form,
            "header_rows": range(HEADER_ROWS),
        },
        status=status,
    )


@require_GET
@cluster_view(Capability.OPERATE)
def produce_page(request: ConsoleRequest, topic: str) -> TemplateResponse:
    """Forms to produce one message or a generated stream to the topic."""
    form = _produce_form(request, topic, initial={"schema_subject": ""})
    return _page(request, topic, form, _generate_form(request, initial={"count": 1000}))


@require_GET
@cluster_view()
def produce_preview(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Which partition a key goes to, with the same murmur2 hash as Java clients."""
    n = _partitions(request, topic)
    if request.GET.get("null_key"):
        text = f"A null key is spread across the {n} partitions."
    else:
        key = request.GET.get("key", "")
        p = partition_for(key.encode(), n)
        text = (
            f"{f'Key “{key}”' if key else 'An empty key'} goes to partition {p} of {n}: "
            f"murmur2(key) mod {n}, as Java "
            "clients compute it. Every message with this key lands there, in order, while "
            "the partition count stays the same."
        )
    return HttpResponse(
        f'<span id="partition-preview" data-partition="'
        f'{"" if request.GET.get("null_key") else p}">'
        f"{_escape(text)}</span>"
    )


def _escape(text: str) -> str:
    from django.utils.html import escape

    return escape(text)


@require_POST
@cluster_view(Capability.OPERATE)
def produce_message(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Queue one message; the job page shows its delivery report or Kafka's refusal."""
    form = _produce_form(request, topic, data=request.POST)
    if not form.is_valid():
        return _page(request, topic, form, _generate_form(request), status=400)
    d = form.cleaned_data
    return _queue(
        request,
        topic,
        message_produce_task,
        kind="produce.message",
        params={
            "key": base64.b64encode(d["key_bytes"]).decode()
            if d["key_bytes"] is not None
            else None,
            "value": base64.b64encode(d["value_bytes"]).decode(),
            "headers": [(k, base64.b64encode(v).decode()) for k, v in d["headers"]],
            "partition": d["partition"],
            "compression": d["compression"],
        },
    )


@require_POST
@cluster_view(Capability.OPERATE)
def produce_generate(request: ConsoleRequest, topic: str) -> HttpResponse:
    """Queue a generator run; its job page shows live progress and can cancel it."""
    form = _generate_form(request, data=request.POST)
    if not form.is_valid():
        return _page(request, topic, _produce_form(request, topic), form, status=400)
    d = form.cleaned_data
    _partitions(request, topic)  # a missing topic is a 404 now, not a failed task later
    return _queue(
        request,
        topic,
        events_generate_task,
        kind="produce.generate",
        audit={"total": d["total"]},
        params={
            "template": d["template"],
            "key_template": d.get("key_template") or "",
            "value_template": d.get("value_template") or "",
            "total": d["total"],
            "seconds": d.get("seconds"),
            "rate": d.get("rate"),
            "seed": new_seed(),
            "schema": d.get("schema"),
        },
    )
