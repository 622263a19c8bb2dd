from __future__ import annotations

from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

from console.web import ConsoleRequest, cluster_view, partial
from topics.selectors import topic_list_for


@require_GET
@cluster_view()
def topic_list(request: ConsoleRequest) -> TemplateResponse:
    """Topics of a cluster, searchable as you type."""
    q = request.GET.get("q", "").strip()
    internal = request.GET.get("internal") == "1"
    topics = topic_list_for(cluster=request.cluster, q=q, internal=internal)
    return TemplateResponse(
        request,
        partial(request, "topics/topic_list.html", "rows"),
        {"cluster": request.cluster, "topics": topics, "q": q, "internal": internal},
    )
