"""Reads for the topic pages: list (sorted, paged), detail, configs, skew."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from console.clusters import Cluster, MaskRule
from console.kafka.cluster import cluster_snapshot
from console.kafka.errors import KafkaConsoleError
from console.kafka.offsets import Watermarks, watermarks
from console.kafka.topics import newest_sample, topic_configs
from console.kafka.types import ConfigEntry, PartitionInfo, TopicInfo
from console.messages.masking import mask_key

SORTS = ("name", "partitions", "replication", "messages", "under_replicated")
PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class TopicRow:
    info: TopicInfo
    messages: int | None  # sum of high - low over partitions; None when offsets failed
    cleanup_policy: str

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
    topics = [
        t
        for t in cluster_snapshot(cluster).topics
        if (internal or not t.internal) and (not q or q in t.name.lower())
    ]
    sort = sort if sort in SORTS else "name"
    marks: dict = {}
    # Ties stay in name order whatever the direction: sort by name, then (stably) by the key.
    topics.sort(key=lambda t: t.name, reverse=desc and sort == "name")
    if sort == "messages":
        marks = watermarks(cluster, [(t.name, p.id) for t in topics for p in t.partitions])
        topics.sort(key=lambda t: _messages(t, marks) or -1, reverse=desc)
    elif sort != "name":
        key = {
            "partitions": lambda t: t.partition_count,
            "replication": lambda t: t.replication_factor,
            "under_replicated": lambda t: t.under_replicated,
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
        rows.append(TopicRow(t, _messages(t, marks), policy))
    return TopicPage(rows, len(topics), page, pages, sort, desc)


@dataclass(frozen=True, slots=True)
class PartitionRow:
    info: PartitionInfo
    marks: Watermarks | None
    error: str = ""


@dataclass(frozen=True, slots=True)
class TopicDetail:
    info: TopicInfo
    partitions: list[PartitionRow]
    brokers_online: int

    @property
    def messages(self) -> int:
        return sum(r.marks.count for r in self.partitions if r.marks)

    @property
    def leaderless(self) -> list[int]:
        return [r.info.id for r in self.partitions if r.info.offline]


def topic_detail_get(*, cluster: Cluster, topic: str) -> TopicDetail:
    """A topic's partitions: leader, replicas, ISR (out-of-sync marked), watermarks."""
    snap = cluster_snapshot(cluster, topic=topic)
    (info,) = snap.topics
    marks = watermarks(cluster, [(topic, p.id) for p in info.partitions if not p.offline])
    rows = []
    for p in info.partitions:
        m = marks.get((topic, p.id))
        if isinstance(m, Watermarks):
            rows.append(PartitionRow(p, m))
        else:
            reason = "no leader" if p.offline else str(m or "")
            rows.append(PartitionRow(p, None, reason))
    return TopicDetail(info, rows, sum(b.online for b in snap.brokers))


def topic_configs_get(*, cluster: Cluster, topic: str) -> list[ConfigEntry]:
    """Every config of the topic with its source; sensitive values masked by ConfigEntry."""
    cluster_snapshot(cluster, topic=topic)  # NotFound for a missing topic
    result = topic_configs(cluster, [topic])[topic]
    if isinstance(result, KafkaConsoleError):
        raise result
    return result


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
