"""A throwaway PostgreSQL for tests and CI (see local.py)."""
