from django.urls import path

from groups import views

app_name = "groups"

urlpatterns = [
    path("", views.group_list, name="list"),
    # "+" cannot start a group id we show links for; keeps these out of group ids' way.
    path("+for-topic/<str:topic>/", views.groups_for_topic, name="for_topic"),
    path("<str:group>/", views.group_detail, name="detail"),
    path("<str:group>/reset/", views.group_reset, name="reset"),
    path("<str:group>/undo/<int:audit_id>/", views.group_undo, name="undo"),
    path("<str:group>/delete/", views.group_delete, name="delete"),
]
