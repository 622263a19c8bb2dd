from django.apps import AppConfig


class SchemasConfig(AppConfig):
    """The schema-registry pages (templates in console/schemas/templates/schemas/)."""

    name = "console.schemas"
    label = "schemas"
    verbose_name = "Schema registry"
