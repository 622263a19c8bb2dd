"""Permissions from the role groups, for every user, with or without local passwords."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend


class RolePermissionsBackend(ModelBackend):
    """Django's ModelBackend without its password log-in.

    With local accounts switched off (CONSOLE_LOCAL_ACCOUNTS=0) nobody logs in with a
    password kept here, yet the role a provider decided is still a Django group whose
    permissions must count: this backend answers has_perm() from the groups and refuses
    every password.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        return None
