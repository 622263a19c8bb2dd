"""A throwaway OpenLDAP (Debian's slapd) for tests and demos (see local.py)."""
