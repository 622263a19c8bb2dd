from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """One mutating action (or a refused attempt): who, when, where, what, with what result."""

    class Outcome(models.TextChoices):
        OK = "ok", "succeeded"
        ERROR = "error", "failed"
        DENIED = "denied", "denied"
        QUEUED = "queued", "queued"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True)
    cluster = models.CharField(max_length=64, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=512, blank=True)
    params = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    detail = models.TextField(blank=True)
    # For offset resets: offsets before and after, so the page can offer an undo.
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        permissions = [
            ("view_cluster", "See cluster metadata (brokers, topics, groups, configs)"),
            ("read_messages", "Read message contents (browser, live tail, downloads)"),
            ("operate_cluster", "Produce, reset offsets, create topics"),
            ("admin_cluster", "Delete topics, records and groups; change configs"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class Job(models.Model):
    """A Celery task's visible state: the page polls it for progress and the final report."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    cluster = models.CharField(max_length=64)
    target = models.CharField(max_length=512, blank=True)
    params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.QUEUED)
    progress = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    cancel_requested = models.BooleanField(default=False)
    audit = models.ForeignKey(AuditEntry, null=True, blank=True, on_delete=models.SET_NULL)
    # The worker process running it ("worker@host pid 123"), how many times a worker took it
    # up (a redelivered task counts again), and that worker's last sign of life: a job whose
    # worker stopped beating is failed by the reaper (console.jobs_reap) instead of showing
    # "running" until the broker redelivers its task, an hour later.
    worker = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "heartbeat_at"], name="console_job_state_hb")]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED}


class ClusterRole(models.Model):
    """A role on one cluster only: a provider group mapped with ``group=role@cluster``
    (CONSOLE_ROLE_MAP), decided again at every log-in. Roles held everywhere are the
    Django groups viewer, operator and admin (console/access.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cluster_roles"
    )
    cluster = models.CharField(max_length=64)
    role = models.CharField(max_length=16)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "cluster"], name="one_role_per_cluster")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.role} on {self.cluster}"


class LoginFailure(models.Model):
    """A failed log-in, counted per user name and per address to throttle guessing."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    address = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} from {self.address}"


class LagSnapshot(models.Model):
    """The lag sampler's latest per-partition lag of one cluster, exported by /metrics for
    clusters with `lag_metrics = true` (one row per cluster, replaced at each sample)."""

    cluster = models.CharField(max_length=64, primary_key=True)
    taken_at = models.DateTimeField()
    # [[group, topic, partition, committed, end], ...]; lag = max(0, end - committed).
    rows = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"lag of {self.cluster} at {self.taken_at:%Y-%m-%d %H:%M:%S}"


class ThroughputSample(models.Model):
    """A topic's log-end offsets at one moment (topic "": the cluster's non-internal topics);
    the throughput sampler writes one row per topic and one per cluster each round. The rate
    between two rows is the difference of `produced` over the difference of `at`."""

    at = models.DateTimeField(db_index=True)
    cluster = models.CharField(max_length=64)
    topic = models.CharField(max_length=255, blank=True)  # "": the cluster's total
    end = models.BigIntegerField()  # sum of the partitions' log-end offsets
    # Offsets added since this series began, summed from each round's non-negative increases
    # per topic, so a topic deleted or recreated between rounds never makes the rate negative.
    produced = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["cluster", "topic", "at"])]
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.topic or '*'} {self.produced} at {self.at:%H:%M:%S}"
