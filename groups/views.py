from __future__ import annotations

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from console.web import ConsoleRequest, cluster_view, partial
from groups.selectors import group_list_for


@require_GET
@cluster_view()
def group_list(request: ConsoleRequest) -> TemplateResponse:
    """Consumer groups of a cluster with state and protocol type."""
    q = request.GET.get("q", "").strip()
    groups = group_list_for(cluster=request.cluster, q=q)
    return TemplateResponse(
        request,
        partial(request, "groups/group_list.html", "rows"),
        {"cluster": request.cluster, "groups": groups, "q": q},
    )
