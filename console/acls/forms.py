"""Forms of the ACL pages: a filter (list, delete preview) and one binding to create."""

from __future__ import annotations

import ipaddress

from django import forms

from console.kafka.acls import (
    CLUSTER_NAME,
    OPERATIONS,
    PATTERN_TYPES,
    PERMISSIONS,
    RESOURCE_TYPES,
    Acl,
    AclFilter,
)

NAME_MAX = 255
# The operations that mean something on each resource type (Kafka's authorization docs);
# the broker stores any combination, so a meaningless one is refused here.
VALID_OPERATIONS = {
    "topic": {
        "all",
        "read",
        "write",
        "create",
        "delete",
        "alter",
        "describe",
        "describe_configs",
        "alter_configs",
    },
    "group": {"all", "read", "delete", "describe", "describe_configs", "alter_configs"},
    "cluster": {
        "all",
        "create",
        "alter",
        "describe",
        "cluster_action",
        "describe_configs",
        "alter_configs",
        "idempotent_write",
    },
    "transactional_id": {"all", "describe", "write"},
}
PRINCIPAL_HELP = "Type:name, e.g. User:alice (User:* is everyone)."


def _choices(names, any_label: str | None = None):
    out = [(n, n.replace("_", " ").upper()) for n in names]
    return [("", any_label), *out] if any_label else out


def _principal(value: str) -> str:
    value = value.strip()
    if value and (":" not in value or not value.split(":", 1)[0] or not value.split(":", 1)[1]):
        raise forms.ValidationError("A principal is Type:name, e.g. User:alice.")
    return value


class AclFilterForm(forms.Form):
    principal = forms.CharField(required=False, max_length=NAME_MAX, label="Principal")
    resource_type = forms.ChoiceField(
        required=False, choices=_choices(RESOURCE_TYPES, "any resource"), label="Resource"
    )
    resource_name = forms.CharField(required=False, max_length=NAME_MAX, label="Resource name")
    pattern_type = forms.ChoiceField(
        required=False,
        choices=[
            *_choices(PATTERN_TYPES, "any pattern"),
            ("match", "MATCHING (incl. * and prefixes)"),
        ],
        label="Pattern",
    )
    operation = forms.ChoiceField(
        required=False, choices=_choices(OPERATIONS, "any operation"), label="Operation"
    )
    permission = forms.ChoiceField(
        required=False, choices=_choices(PERMISSIONS, "allow or deny"), label="Permission"
    )
    host = forms.CharField(required=False, max_length=NAME_MAX, label="Host")

    def clean_principal(self) -> str:
        return _principal(self.cleaned_data["principal"])

    def acl_filter(self) -> AclFilter:
        d = self.cleaned_data
        return AclFilter(
            principal=d["principal"],
            resource_type=d["resource_type"],
            resource_name=d["resource_name"].strip(),
            pattern_type=d["pattern_type"],
            operation=d["operation"],
            permission=d["permission"],
            host=d["host"].strip(),
        )


class AclCreateForm(forms.Form):
    principal = forms.CharField(max_length=NAME_MAX, label="Principal", help_text=PRINCIPAL_HELP)
    resource_type = forms.ChoiceField(choices=_choices(RESOURCE_TYPES), label="Resource type")
    resource_name = forms.CharField(
        required=False,
        max_length=NAME_MAX,
        label="Resource name",
        help_text="* is every resource of the type; a cluster is always kafka-cluster.",
    )
    pattern_type = forms.ChoiceField(
        choices=_choices(PATTERN_TYPES), label="Pattern", initial="literal"
    )
    operation = forms.ChoiceField(choices=_choices(OPERATIONS), label="Operation")
    permission = forms.ChoiceField(choices=_choices(PERMISSIONS), label="Permission")
    host = forms.CharField(
        required=False, max_length=NAME_MAX, label="Host", initial="*", help_text="* is any host."
    )

    def clean_principal(self) -> str:
        value = _principal(self.cleaned_data["principal"])
        if not value:
            raise forms.ValidationError("Name the principal, e.g. User:alice.")
        return value

    def clean(self):
        d = super().clean()
        if d.get("resource_type") == "cluster":
            d["resource_name"] = CLUSTER_NAME
            d["pattern_type"] = "literal"
        elif "resource_name" in d and not d["resource_name"].strip():
            self.add_error("resource_name", "Name the resource, or * for all of them.")
        kind, op = d.get("resource_type"), d.get("operation")
        if kind and op and op not in VALID_OPERATIONS[kind]:
            self.add_error(
                "operation",
                f"{op.upper()} means nothing on a {kind.replace('_', ' ')}; it takes "
                + ", ".join(sorted(o.upper() for o in VALID_OPERATIONS[kind]))
                + ".",
            )
        return d

    def clean_host(self) -> str:
        host = self.cleaned_data["host"].strip() or "*"
        if host != "*":
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise forms.ValidationError(
                    "A host is * (any) or one IP address; Kafka matches no names or ranges."
                ) from None
        return host

    def acl(self) -> Acl:
        d = self.cleaned_data
        return Acl(
            resource_type=d["resource_type"],
            resource_name=d["resource_name"].strip(),
            pattern_type=d["pattern_type"],
            principal=d["principal"],
            host=d["host"].strip() or "*",
            operation=d["operation"],
            permission=d["permission"],
        )
