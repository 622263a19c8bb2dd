"""Fixtures of the identity tests: OIDC (Keycloak) and LDAP (slapd) add theirs below."""

from tests.identity.keycloak_fixture import keycloak  # noqa: F401 - one Keycloak a session
