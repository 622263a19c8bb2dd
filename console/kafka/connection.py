"""What the door needs to reach a cluster: its own type, so console/kafka/ imports nothing
above it. console/clusters.py builds these (its Cluster adds what only the pages need)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Connection:
    name: str
    bootstrap_servers: str
    # repr=False: properties hold secrets, and a repr ends up in logs and tracebacks.
    properties: dict[str, str] = field(default_factory=dict, hash=False, compare=False, repr=False)
    read_only: bool = False

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for a client of this cluster (secrets included: never render)."""
        return {"bootstrap.servers": self.bootstrap_servers, **self.properties}
