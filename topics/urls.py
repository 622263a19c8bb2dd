"""URLs under /clusters/<cluster>/topics/. Topic names are [A-Za-z0-9._-], so <str:topic> fits.

Owners: topic list/detail/configs/skew/operations -> views.py; message browser ->
browse_views.py; live tail -> tail_views.py (+ consumers.py, routing.py); produce ->
produce_views.py. URL names are what topics/_tabs.html links to.
"""

from django.urls import path

from topics import views

app_name = "topics"

urlpatterns = [
    path("", views.topic_list, name="list"),
]
