"""The broker page: the broker's log dirs (size on disk), its configs (changed from default
first, filterable) and a dynamic config's change: a preview (old -> new, the broker
validates it, nothing changes), then a confirmation that applies exactly what was previewed.

Changes are admin-only, refused on read-only clusters and audited (`broker.config`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms

from console.access import Capability, CapabilityDenied, ReadOnlyCluster, require
from console.audit import audit_record, mutation
from console.clusters import Cluster
from console.forms import ConfigChangeForm, SeenValueConfirm
from console.kafka.brokers import broker_config_alter, broker_config_get
from console.kafka.cluster import broker_configs, cluster_snapshot
from console.kafka.errors import InvalidRequest
from console.kafka.logdirs import BrokerLogDirs, log_dirs
from console.kafka.types import BrokerInfo, ConfigEntry
from console.models import AuditEntry

# A broker's configs, by where their value comes from: what someone set, first.
SOURCE_ORDER = {"dynamic broker": 0, "dynamic default": 1, "static broker": 2}
NO_PREVIEW = "This change was not previewed: preview it first, then confirm."


# --- reads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerConfigRow:
    entry: ConfigEntry
    why_fixed: str  # why the console cannot change it; "" when it can

    @property
    def changed(self) -> bool:
        return not self.entry.is_default

    @property
    def dynamic(self) -> bool:
        """Set on this broker while it runs (an override a change can remove)."""
        return self.entry.source == "dynamic broker"


@dataclass(frozen=True, slots=True)
class BrokerConfigs:
    rows: list[BrokerConfigRow]
    total: int
    changed: int


def _why_fixed(e: ConfigEntry) -> str:
    if e.is_read_only:
        return "read-only: the broker reads it from server.properties at start-up only"
    if e.is_sensitive:
        return "sensitive: set it with kafka-configs; the console does not handle secrets"
    return ""


def _rank(e: ConfigEntry) -> tuple[int, int, str]:
    return (1 if e.is_default else 0, SOURCE_ORDER.get(e.source, 3), e.name)


def broker_configs_for(
    *, cluster: Cluster, broker_id: int, q: str = "", only_changed: bool = False
) -> BrokerConfigs:
    """One broker's configs, changed from default first; `q` filters by name,
    `only_changed` leaves Kafka's defaults out."""
    entries = sorted(broker_configs(cluster, broker_id), key=_rank)
    q = q.strip().lower()
    rows = [
        BrokerConfigRow(e, _why_fixed(e))
        for e in entries
        if (not q or q in e.name.lower()) and not (only_changed and e.is_default)
    ]
    return BrokerConfigs(rows, len(entries), sum(not e.is_default for e in entries))


@dataclass(frozen=True, slots=True)
class BrokerDisk:
    """What the broker stores: its log dirs, or why they are not known."""

    info: BrokerInfo | None
    log_dirs: BrokerLogDirs | None
    reason: str  # why there are no log dirs; "" when there are

    @property
    def size(self) -> int | None:
        return self.log_dirs.size if self.log_dirs else None


def broker_disk_get(*, cluster: Cluster, broker_id: int) -> BrokerDisk:
    """The broker's address and partition counts, and its log dirs with their sizes."""
    info = next((b for b in cluster_snapshot(cluster).brokers if b.id == broker_id), None)
    found = log_dirs(cluster)
    if not found.available:
        return BrokerDisk(info, None, found.reason)
    mine = found.broker(broker_id)
    if mine is None:
        return BrokerDisk(info, None, "the broker was not among those that answered")
    if mine.error:
        return BrokerDisk(info, None, f"the broker did not answer ({mine.error})")
    return BrokerDisk(info, mine, "")


# --- a config change -----------------------------------------------------------------------


class PlanRefused(InvalidRequest):
    """The change cannot be previewed as asked; `field` names the form field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PreviewStale(InvalidRequest):
    """The config changed since the preview. Preview again."""


class BrokerConfigForm(ConfigChangeForm):
    name = forms.CharField(
        max_length=200,
        label="Config",
        error_messages={"required": "Name the config to change, e.g. log.cleaner.threads."},
    )
    value = forms.CharField(required=False, max_length=10_000)
    reset = forms.BooleanField(required=False, label="Remove the dynamic value")

    name_pattern = r"[a-z0-9._-]+"
    both_error = "Either give a new value or remove the dynamic one, not both."
    neither_error = "Give the new value, or remove the dynamic value."


class BrokerConfigConfirmForm(SeenValueConfirm, BrokerConfigForm):
    """The previewed change; refused when the value it replaces is no longer the one seen."""

    no_preview = NO_PREVIEW


@dataclass(frozen=True, slots=True)
class BrokerConfigPlan:
    broker_id: int
    key: str
    old: str | None  # None: not set
    old_source: str
    new: str | None  # None: the dynamic value goes

    @property
    def reset(self) -> bool:
        return self.new is None


def broker_config_plan(
    *, cluster: Cluster, broker_id: int, key: str, value: str | None
) -> BrokerConfigPlan:
    """key: old value -> new value (or back to the static or default value); the broker
    validates it. Nothing changes."""
    entry = broker_config_get(cluster, broker_id=broker_id, key=key)
    if entry is None:
        raise PlanRefused(f"Brokers have no config named {key}.", field="name")
    why = _why_fixed(entry)
    if why:
        raise PlanRefused(f"{key} is {why}.", field="name")
    if value is None and entry.source != "dynamic broker":
        raise PlanRefused(
            f"{key} has no dynamic value on broker {broker_id}: it already follows the "
            f"{entry.source} value.",
            field="reset",
        )
    if value is not None and entry.value == value:
        raise PlanRefused(f"{key} is already {value}: nothing to change.", field="value")
    try:
        if value is None:
            broker_config_alter(
                cluster, broker_id=broker_id, set_={}, delete=[key], validate_only=True
            )
        else:
            broker_config_alter(cluster, broker_id=broker_id, set_={key: value}, validate_only=True)
    except InvalidRequest as exc:
        raise PlanRefused(str(exc), field="value") from None
    return BrokerConfigPlan(broker_id, key, entry.value, entry.source, value)


def broker_config_preview(
    form: BrokerConfigForm, *, cluster: Cluster, broker_id: int
) -> BrokerConfigPlan | None:
    """The plan for a valid form; None (the reason added by its field) otherwise."""
    if not (form.is_bound and form.is_valid()):
        return None
    try:
        return broker_config_plan(
            cluster=cluster,
            broker_id=broker_id,
            key=form.cleaned_data["name"],
            value=form.new_value,
        )
    except PlanRefused as exc:
        form.add_error(exc.field, str(exc))
        return None


def broker_config_change_allowed(*, user, cluster: Cluster, broker_id: int) -> None:
    """Raise (a 403, audited as denied) unless `user` may change broker configs here; run
    before reading the posted form, so a refusal never depends on what was posted."""
    try:
        require(user, Capability.ADMIN, cluster.name)
        if cluster.read_only:
            raise ReadOnlyCluster(f"Cluster {cluster.name} is read-only: broker.config is refused.")
    except (CapabilityDenied, ReadOnlyCluster) as exc:
        audit_record(
            user=user,
            cluster=cluster.name,
            action="broker.config",
            target=f"broker {broker_id}",
            outcome=AuditEntry.Outcome.DENIED,
            detail=str(exc),
        )
        raise


def broker_config_set(
    *, user, cluster: Cluster, broker_id: int, key: str, value: str | None, seen_value: str
) -> None:
    """Set one dynamic config of a broker, or remove it when `value` is None (admin).
    Refused when the value it replaces is no longer the one the preview showed."""
    with mutation(
        user=user,
        cluster=cluster,
        action="broker.config",
        target=f"broker {broker_id}",
        capability=Capability.ADMIN,
        params={"key": key, "value": value, "seen_value": seen_value},
    ) as m:
        entry = broker_config_get(cluster, broker_id=broker_id, key=key)
        if entry is None:
            raise PlanRefused(f"Brokers have no config named {key}.", field="name")
        why = _why_fixed(entry)
        if why:
            raise PlanRefused(f"{key} is {why}.", field="name")
        now = entry.value or ""
        if now != seen_value:
            raise PreviewStale(
                f"{key} is {now or '(not set)'} now, not the {seen_value or '(not set)'} the "
                "preview showed: someone changed it. Check the new preview below."
            )
        m.before = {key: entry.value}
        if value is None:
            broker_config_alter(cluster, broker_id=broker_id, set_={}, delete=[key])
        else:
            broker_config_alter(cluster, broker_id=broker_id, set_={key: value})
        after = broker_config_get(cluster, broker_id=broker_id, key=key)
        m.after = {key: after.value if after else None}
