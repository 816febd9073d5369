"""The three staff roles, as groups whose permissions are kept in step after every migrate."""

from __future__ import annotations

from fnmatch import fnmatch

ROLES: dict[str, list[str]] = {
    "viewer": ["incidents.view_*", "apologies.view_*"],
    "marketer": [
        "incidents.view_*",
        "incidents.add_*",
        "incidents.change_*",
        "incidents.delete_suppression",
        "apologies.view_*",
        "apologies.add_*",
        "apologies.change_*",
        "apologies.send_*",
    ],
    "approver": ["incidents.view_*", "apologies.view_*", "apologies.approve_*", "apologies.send_*"],
}


def roles_sync(**kwargs) -> None:
    from django.contrib.auth.models import Group, Permission

    perms = list(
        Permission.objects.select_related("content_type").filter(content_type__app_label__in=["incidents", "apologies"])
    )
    for role, patterns in ROLES.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = [p for p in perms if any(fnmatch(f"{p.content_type.app_label}.{p.codename}", pat) for pat in patterns)]
        group.permissions.set(wanted)
