from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConsoleConfig(AppConfig):
    name = "console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from console.access import ensure_roles
        from console.clusters import all_clusters
        from console.identity import roles  # noqa: F401 - connects the log-in audit signals
        from console.identity.recent import connect_signals

        connect_signals()  # a role changed here is seen by the next request

        # The role groups are data the code depends on: recreate them after every migrate
        # (and after test flushes, which re-send post_migrate).
        post_migrate.connect(ensure_roles, sender=self)
        # Load and validate the clusters now: a malformed file or variable stops the start
        # with ImproperlyConfigured naming the source, the key and the fault.
        names = {c.name for c in all_clusters()}
        # A role on a cluster that does not exist is a typo that would silently give nothing.
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        for group, by_cluster in settings.CONSOLE_CLUSTER_ROLE_MAP.items():
            unknown = sorted(set(by_cluster) - names)
            if unknown:
                raise ImproperlyConfigured(
                    f"CONSOLE_ROLE_MAP: {group}=...@{unknown[0]} names no configured cluster; "
                    f"clusters are {', '.join(sorted(names)) or '(none)'}"
                )
