from django.apps import AppConfig


class AclsConfig(AppConfig):
    """Kafka ACL pages: list, filter, create, delete, per topic and per principal."""

    name = "console.acls"
    label = "acls"
    verbose_name = "Kafka ACLs"
