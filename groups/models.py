from django.db import models


class LagSample(models.Model):
    """A group's lag on one topic at one moment (the lag sampler writes one per group-topic)."""

    at = models.DateTimeField(db_index=True)
    cluster = models.CharField(max_length=64)
    group = models.CharField(max_length=255)
    topic = models.CharField(max_length=255)
    lag = models.BigIntegerField()  # over partitions with a committed offset
    committed = models.BigIntegerField()  # sum of committed offsets (for the consume rate)
    end = models.BigIntegerField()  # sum of log-end offsets (for the produce rate)
    no_commit = models.IntegerField(default=0)  # partitions without a committed offset
    # The most behind partition's time lag (now - timestamp of its oldest unread record), ms;
    # 0 when caught up, null when no lagging partition's record was read.
    time_lag_ms = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["cluster", "group", "topic", "at"])]
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.group}/{self.topic} lag {self.lag} at {self.at:%H:%M:%S}"
