"""Reads for the topic pages: list (sorted, paged), detail, configs, skew, messages in/s."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass
from operator import attrgetter

from django.conf import settings
from django.utils import timezone

from console.clusters import Cluster, MaskRule
from console.kafka.cache import list_index_age, shared
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError
from console.kafka.logdirs import LogDirs, log_dirs
from console.kafka.offsets import Watermarks, watermarks
from console.kafka.topics import newest_sample, topic_configs
from console.kafka.types import ConfigEntry, PartitionInfo, TopicInfo
from console.messages.masking import mask_key
from console.templatetags.console import human_bytes
from console.throughput import RatePoint, throughput_sample_count, throughput_series_for

SORTS = ("name", "partitions", "replication", "messages", "under_replicated", "size")
PER_PAGE = 50
# The messages in/s chart of a topic spans this much time.
RATE_WINDOW = dt.timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class TopicRow:
    info: TopicInfo
    messages: int | None  # sum of high - low over partitions; None when offsets failed
    cleanup_policy: str
    size: int | None = None  # bytes on disk, every replica; None: not reported

    @property
    def name(self) -> str:
        return self.info.name


@dataclass(frozen=True, slots=True)
class TopicPage:
    rows: list[TopicRow]
    total: int
    page: int
    pages: int
    sort: str
    desc: bool
    sizes_reason: str = ""  # why there is no size column; "" when there is one
    sizes_at: dt.datetime | None = None  # when the brokers reported the sizes
    sizes_note: str = ""  # e.g. a broker that did not answer: its replicas are left out


def sizes_note(found: LogDirs) -> str:
    """What the sizes leave out, in one line ("" when every broker answered)."""
    silent = [b for b in found.brokers if b.error]
    if not found.available or not silent:
        return ""
    names = ", ".join(str(b.broker) for b in silent)
    return (
        f"broker{'s' if len(silent) > 1 else ''} {names} did not answer: "
        f"the sizes leave {'their' if len(silent) > 1 else 'its'} replicas out"
    )


def _sizes(
    cluster: Cluster, max_age: float | None = None, stale_s: float = 0.0
) -> tuple[dict[str, int] | None, str, dt.datetime | None, str]:
    """Bytes on disk per topic (every replica), or None and why not. With `max_age` (the
    list index's), the brokers' answer is refreshed in the background like the index: the
    page shows the sizes' age and never waits for every broker's log dirs."""
    if max_age is None:
        found = log_dirs(cluster)
    else:
        found = shared(
            cluster.name, "log_dirs", max_age, lambda: log_dirs(cluster), stale_s=stale_s
        )
    if not found.available:
        return None, found.reason, None, ""
    at = dt.datetime.fromtimestamp(found.at, tz=dt.UTC)
    return found.topic_sizes(), "", at, sizes_note(found)


def _messages(info: TopicInfo, marks: dict) -> int | None:
    total = 0
    for p in info.partitions:
        m = marks.get((info.name, p.id))
        if not isinstance(m, Watermarks):
            return None
        total += m.count
    return total


def topic_list_for(
    *,
    cluster: Cluster,
    q: str = "",
    internal: bool = False,
    sort: str = "name",
    desc: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> TopicPage:
    """One page of topics: one metadata request, then offsets and configs for that page only
    (for every topic only when sorting by message count needs them)."""
    q = q.lower()
    # Every topic's name and partitions from the list index (a recent metadata snapshot,
    # refreshed in the background: CONSOLE_LIST_INDEX_S); offsets and configs below are
    # read for the page's rows only.
    max_age, stale_s = list_index_age()
    topics = [
        t
        for t in cluster_snapshot(cluster, max_age=max_age, stale_s=stale_s).topics
        if (internal or not t.internal) and (not q or q in t.name.lower())
    ]
    sort = sort if sort in SORTS else "name"
    sizes, sizes_reason, sizes_at, note = _sizes(cluster, max_age, stale_s)
    if sort == "size" and sizes is None:
        sort = "name"
    marks: dict = {}
    # Ties stay in name order whatever the direction: sort by name, then (stably) by the key.
    topics.sort(key=attrgetter("name"), reverse=desc and sort == "name")
    if sort == "messages":
        marks = watermarks(cluster, [(t.name, p.id) for t in topics for p in t.partitions])
        topics.sort(key=lambda t: _messages(t, marks) or -1, reverse=desc)
    elif sort != "name":
        key = {
            "partitions": lambda t: t.partition_count,
            "replication": lambda t: t.replication_factor,
            "under_replicated": lambda t: t.under_replicated,
            "size": lambda t: (sizes or {}).get(t.name, -1),
        }[sort]
        topics.sort(key=key, reverse=desc)
    pages = max(1, math.ceil(len(topics) / per_page))
    page = min(max(1, page), pages)
    shown = topics[(page - 1) * per_page : page * per_page]
    if sort != "messages":
        marks = watermarks(cluster, [(t.name, p.id) for t in shown for p in t.partitions])
    configs = topic_configs(cluster, [t.name for t in shown])
    rows = []
    for t in shown:
        entries = configs.get(t.name)
        policy = ""
        if isinstance(entries, list):
            policy = next((e.value or "" for e in entries if e.name == "cleanup.policy"), "")
        size = None if sizes is None else sizes.get(t.name)  # None: newer than the report
        rows.append(TopicRow(t, _messages(t, marks), policy, size))
    return TopicPage(rows, len(topics), page, pages, sort, desc, sizes_reason, sizes_at, note)


@dataclass(frozen=True, slots=True)
class ReplicaSize:
    broker: int
    size: int | None  # None: the broker reported no replica of the partition


@dataclass(frozen=True, slots=True)
class PartitionRow:
    info: PartitionInfo
    marks: Watermarks | None
    error: str = ""
    size: int | None = None  # bytes of the leader's replica (else the largest one)
    replica_sizes: tuple[ReplicaSize, ...] = ()

    @property
    def sizes_title(self) -> str:
        """Each replica's size (the raw bytes too), for the size cell's title."""
        return "; ".join(
            f"broker {r.broker}{' (leader)' if r.broker == self.info.leader else ''}: "
            + ("not reported" if r.size is None else _bytes_text(r.size))
            for r in self.replica_sizes
        )

    @property
    def size_text(self) -> str:
        return "" if self.size is None else human_bytes(self.size)


@dataclass(frozen=True, slots=True)
class TopicDetail:
    info: TopicInfo
    partitions: list[PartitionRow]
    brokers_online: int
    sizes_reason: str = ""  # why there are no sizes; "" when there are
    sizes_at: dt.datetime | None = None
    sizes_note: str = ""

    @property
    def messages(self) -> int:
        return sum(r.marks.count for r in self.partitions if r.marks)

    @property
    def leaderless(self) -> list[int]:
        return [r.info.id for r in self.partitions if r.info.offline]

    @property
    def size(self) -> int | None:
        """Bytes of one copy of the topic: the partitions' sizes summed."""
        if self.sizes_reason:
            return None
        return sum(r.size or 0 for r in self.partitions)

    @property
    def size_on_disk(self) -> int | None:
        """Bytes on every broker's disk: every replica of every partition."""
        if self.sizes_reason:
            return None
        return sum(x.size or 0 for r in self.partitions for x in r.replica_sizes)


def _bytes_text(size: int) -> str:
    """'1.5 MiB (1,572,864 B)'; '184 B' alone where that is exact."""
    text = human_bytes(size)
    return text if size < 1024 else f"{text} ({size:,} B)"


def _partition_sizes(
    found: LogDirs, p: PartitionInfo
) -> tuple[int | None, tuple[ReplicaSize, ...]]:
    replicas = tuple(ReplicaSize(b, found.replica_size(p.topic, p.id, b)) for b in p.replicas)
    leader = found.replica_size(p.topic, p.id, p.leader) if p.leader >= 0 else None
    size = leader if leader is not None else found.partition_size(p.topic, p.id)
    return size, replicas


def topic_detail_get(*, cluster: Cluster, topic: str, sizes: bool = False) -> TopicDetail:
    """A topic's partitions: leader, replicas, ISR (out-of-sync marked), watermarks, and
    (`sizes`) each replica's size on disk from the brokers' log dirs (cached for a while)."""
    snap = cluster_snapshot(cluster, topic=topic)
    (info,) = snap.topics
    marks = watermarks(cluster, [(topic, p.id) for p in info.partitions if not p.offline])
    found = log_dirs(cluster) if sizes else None
    reason = "" if found is None else found.reason
    rows = []
    for p in info.partitions:
        m = marks.get((topic, p.id))
        size, replicas = (
            _partition_sizes(found, p) if found is not None and not reason else (None, ())
        )
        if isinstance(m, Watermarks):
            rows.append(PartitionRow(p, m, "", size, replicas))
        else:
            error = "no leader" if p.offline else str(m or "")
            rows.append(PartitionRow(p, None, error, size, replicas))
    at = dt.datetime.fromtimestamp(found.at, tz=dt.UTC) if found and not reason else None
    note = sizes_note(found) if found is not None else ""
    return TopicDetail(info, rows, sum(b.online for b in snap.brokers), reason, at, note)


@dataclass(frozen=True, slots=True)
class TopicRate:
    """Messages in per second of one topic, from the throughput sampler's rows."""

    series: list[RatePoint]
    samples: int  # taken in the window
    since: dt.datetime
    until: dt.datetime
    sample_s: float

    @property
    def newest(self) -> RatePoint | None:
        return next((p for p in reversed(self.series) if p.per_s is not None), None)

    def chart_data(self) -> dict:
        """The series as static/console/charts.js draws it (json_script): epoch seconds."""
        return {
            "unit": "msg/s",
            "from": int(self.since.timestamp()),
            "to": int(self.until.timestamp()),
            "x": [int(p.at.timestamp()) for p in self.series],
            "series": [
                {
                    "label": "Messages in",
                    "values": [None if p.per_s is None else round(p.per_s, 3) for p in self.series],
                }
            ],
        }


def topic_rate_get(*, cluster: Cluster, topic: str, now: dt.datetime | None = None) -> TopicRate:
    """The topic's messages in/s over RATE_WINDOW (an interval over 3 sampling periods long
    is a gap: the sampler was not running)."""
    until = now or timezone.now()
    since = until - RATE_WINDOW
    sample_s = float(settings.CONSOLE_THROUGHPUT_SAMPLE_S)
    return TopicRate(
        series=throughput_series_for(
            cluster=cluster.name, topic=topic, since=since, gap_s=3 * sample_s
        ),
        samples=throughput_sample_count(cluster=cluster.name, topic=topic, since=since),
        since=since,
        until=until,
        sample_s=sample_s,
    )


def topic_configs_get(*, cluster: Cluster, topic: str) -> list[ConfigEntry]:
    """Every config of the topic with its source; sensitive values masked by ConfigEntry."""
    cluster_snapshot(cluster, topic=topic)  # NotFound for a missing topic
    result = topic_configs(cluster, [topic])[topic]
    if isinstance(result, KafkaConsoleError):
        raise result
    return result


@dataclass(frozen=True, slots=True)
class ConfigRow:
    entry: ConfigEntry
    why_fixed: str  # why it cannot be changed here; "" when it can

    @property
    def changed(self) -> bool:
        return not self.entry.is_default

    @property
    def override(self) -> bool:
        return self.entry.source == "topic"


@dataclass(frozen=True, slots=True)
class ConfigTable:
    rows: list[ConfigRow]
    total: int
    changed: int  # configs not at Kafka's default (overrides and broker-set values)


def _config_rank(e: ConfigEntry) -> tuple[int, str]:
    # Topic overrides, then values set on the brokers, then Kafka's defaults; by name within.
    return (0 if e.source == "topic" else 1 if not e.is_default else 2, e.name)


def topic_config_table(
    *, cluster: Cluster, topic: str, q: str = "", only_changed: bool = False
) -> ConfigTable:
    """The topic's configs, changed from default first; `q` filters by name, `only_changed`
    leaves Kafka's defaults out."""
    entries = sorted(topic_configs_get(cluster=cluster, topic=topic), key=_config_rank)
    q = q.strip().lower()
    rows = [
        ConfigRow(e, _why_fixed(e))
        for e in entries
        if (not q or q in e.name.lower()) and not (only_changed and e.is_default)
    ]
    return ConfigTable(rows, len(entries), sum(not e.is_default for e in entries))


def _why_fixed(e: ConfigEntry) -> str:
    if e.is_read_only:
        return "read-only: Kafka does not change it per topic"
    if e.is_sensitive:
        return "sensitive: the console neither shows nor changes it"
    return ""


@dataclass(frozen=True, slots=True)
class TopKey:
    key: str | None  # as the reader may see it (masked); None: hidden (no contents role)
    count: int  # messages with this key in the partition's sample
    share: float  # of the partition's sample
    hot: bool  # most of a hot partition's sample: the likely cause


@dataclass(frozen=True, slots=True)
class SkewRow:
    partition: int
    messages: int
    share: float  # of the topic's messages
    bytes_estimate: int | None
    bytes_share: float | None
    hot: bool
    sampled: int
    top_keys: list[TopKey]


@dataclass(frozen=True, slots=True)
class Skew:
    rows: list[SkewRow]
    total: int
    sample_per_partition: int
    sampled: int
    cut_short: bool
    mean: float
    keys_hidden: bool  # the reader may not see message contents: counts only

    @property
    def max_share(self) -> float:
        return max((r.share for r in self.rows), default=0.0)

    @property
    def mean_share(self) -> float:
        """Each partition's share were the messages spread evenly."""
        return 1 / len(self.rows) if self.rows else 0.0


HOT_FACTOR = 1.5
HOT_KEY_SHARE = 0.5


def topic_skew_get(
    *,
    cluster: Cluster,
    topic: str,
    sample: int = 500,
    show_keys: bool = False,
    mask_rules: tuple[MaskRule, ...] = (),
) -> Skew:
    """Per partition: share of messages and (estimated) bytes, hot flags, and the top keys of
    a bounded sample of the newest messages, so a hot key behind a hot partition shows.

    Keys are message contents: without `show_keys` only their counts are returned, and
    shown keys are masked by `mask_rules`. Keys are counted as stored, before masking."""
    detail = topic_detail_get(cluster=cluster, topic=topic)
    marks = {r.info.id: r.marks for r in detail.partitions if r.marks}
    messages, cut_short = newest_sample(cluster, topic, per_partition=sample, marks=marks)
    by_partition: dict[int, list] = {}
    for m in messages:
        by_partition.setdefault(m.partition, []).append(m)
    total = sum(m.count for m in marks.values())
    n = max(1, len(detail.partitions))
    mean = total / n
    estimates = {}
    for p, m in marks.items():
        sampled = by_partition.get(p, [])
        if sampled:
            estimates[p] = int(sum(x.size for x in sampled) / len(sampled) * m.count)
    total_bytes = sum(estimates.values())
    rows = []
    for r in detail.partitions:
        p = r.info.id
        count = r.marks.count if r.marks else 0
        sampled = by_partition.get(p, [])
        hot = n > 1 and total > 0 and count > HOT_FACTOR * mean
        keys = Counter(x.key for x in sampled)
        top_keys = [
            TopKey(
                key=_key_text(key, mask_rules) if show_keys else None,
                count=c,
                share=c / len(sampled),
                hot=hot and c / len(sampled) >= HOT_KEY_SHARE,
            )
            for key, c in keys.most_common(3)
        ]
        rows.append(
            SkewRow(
                partition=p,
                messages=count,
                share=count / total if total else 0.0,
                bytes_estimate=estimates.get(p),
                bytes_share=(estimates[p] / total_bytes)
                if p in estimates and total_bytes
                else None,
                hot=hot,
                sampled=len(sampled),
                top_keys=top_keys,
            )
        )
    return Skew(rows, total, sample, len(messages), cut_short, mean, keys_hidden=not show_keys)


def _key_text(key: bytes | None, mask_rules: tuple[MaskRule, ...]) -> str:
    return "(null key)" if key is None else mask_key(key, mask_rules).text
