"""URLs under /clusters/<cluster>/acls/."""

from django.urls import path

from console.acls import views

app_name = "acls"

urlpatterns = [
    path("", views.acl_list, name="list"),
    path("+new/", views.acl_create, name="create"),
    # GET previews the bindings a filter matches; POST deletes exactly those.
    path("delete/", views.acl_delete, name="delete"),
    path("principal/", views.acl_principal, name="principal"),
    path("topic/<str:topic>/", views.acl_topic, name="topic"),
]
