"""URLs under /clusters/<cluster>/connect/. A connector name has no '/' in these pages."""

from django.urls import path

from console.connect import views

app_name = "connect"

urlpatterns = [
    path("", views.connect_index, name="index"),
    path("<str:connect>/", views.connector_list, name="list"),
    # "+" starts no connector name we link to; keeps the form's URL out of their way.
    path("<str:connect>/+new/", views.connector_create, name="create"),
    path("<str:connect>/<str:name>/", views.connector_detail, name="detail"),
    path("<str:connect>/<str:name>/edit/", views.connector_edit, name="edit"),
    # Each operation: GET previews it (nothing changes), POST confirms it.
    path(
        "<str:connect>/<str:name>/tasks/<int:task>/restart/",
        views.connector_action,
        {"verb": "task-restart"},
        name="task_restart",
    ),
    path("<str:connect>/<str:name>/<slug:verb>/", views.connector_action, name="action"),
]
