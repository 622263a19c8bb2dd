"""URLs under /clusters/<cluster>/schemas/. A subject is one path segment (the console
refuses subject names with '/'); names starting with '+' are the console's own pages."""

from django.urls import path

from console.schemas import views

app_name = "schemas"

urlpatterns = [
    path("", views.subject_list, name="list"),
    path("+new/", views.schema_register, name="create"),
    path("+compatibility/", views.compatibility_edit, name="global_compatibility"),
    path("+topic/<str:topic>/", views.topic_subjects, name="for_topic"),
    path("<str:subject>/", views.subject_detail, name="detail"),
    path("<str:subject>/usage/", views.subject_usage, name="usage"),
    # Each change: GET previews it (nothing changes), POST confirms what was previewed.
    path("<str:subject>/register/", views.schema_register, name="register"),
    path("<str:subject>/compatibility/", views.compatibility_edit, name="compatibility"),
    path("<str:subject>/delete/", views.schema_delete, name="delete"),
]
