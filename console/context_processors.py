from django.http import HttpRequest

from console.access import Capability, can, role_of
from console.clusters import all_clusters


def console(request: HttpRequest) -> dict:
    """Navigation data every page needs: the clusters and what the user may do."""
    user = request.user
    return {
        "nav_clusters": [c for c in all_clusters() if can(user, Capability.VIEW, c.name)],
        "current_cluster": getattr(request, "cluster", None),
        "user_role": role_of(user),
        "can_read_messages": can(user, Capability.READ_MESSAGES),
        "can_operate": can(user, Capability.OPERATE),
        "can_admin": can(user, Capability.ADMIN),
        "can_audit": can(user, Capability.AUDIT),
    }
