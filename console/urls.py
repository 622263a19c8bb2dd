from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from console import health, monitoring, views
from console.auth_views import ThrottledLoginView
from console.identity.oidc import OIDCCallbackView, OIDCLoginView, ProviderLogoutView
from topics.api import topic_messages_api

app_name = "console"

console_patterns = [
    path("", views.home, name="home"),
    path("clusters/", views.cluster_list, name="clusters"),
    path("clusters/<str:cluster>/", views.cluster_detail, name="cluster"),
    path("clusters/<str:cluster>/brokers/<int:broker_id>/", views.broker_detail, name="broker"),
    path("clusters/<str:cluster>/worker-check/", views.worker_check, name="worker_check"),
    path("audit/", views.audit_list, name="audit"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
]

urlpatterns = [
    path("", include((console_patterns, "console"))),
    path("clusters/<str:cluster>/topics/", include("topics.urls")),
    path("clusters/<str:cluster>/groups/", include("groups.urls")),
    path("clusters/<str:cluster>/schemas/", include("console.schemas.urls")),
    path("clusters/<str:cluster>/connect/", include("console.connect.urls")),
    path("clusters/<str:cluster>/acls/", include("console.acls.urls")),
    # The JSON read API (topics/api.py): a page of messages, as the message browser reads it.
    path(
        "api/v1/clusters/<str:cluster>/topics/<str:topic>/messages",
        topic_messages_api,
        name="api_topic_messages",
    ),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    # Ends the provider's session too when the user came through OIDC.
    # Open to anonymous sessions too: one refused for want of a role still holds the
    # provider's session, which only this log-out can end.
    path("accounts/logout/", login_not_required(ProviderLogoutView.as_view()), name="logout"),
    # OIDC single sign-on (404 unless configured): to the provider, and back.
    path("accounts/oidc/login/", login_not_required(OIDCLoginView.as_view()), name="oidc_login"),
    path(
        "accounts/oidc/callback/",
        login_not_required(OIDCCallbackView.as_view()),
        name="oidc_callback",
    ),
    # Probes and the scrape endpoint; console.health.ProbeMiddleware answers them first.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", monitoring.metrics_view, name="metrics"),
]
