"""Fixtures of the identity tests: OIDC (Keycloak) and LDAP (slapd) add theirs below."""
