from tests.registry_fixture import schema_registry  # noqa: F401 - a fixture for this package
