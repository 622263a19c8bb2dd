"""URLs under /clusters/<cluster>/topics/. Topic names are [A-Za-z0-9._-], so <str:topic> fits.

URL names are what topics/_tabs.html links to.
"""

from django.urls import path

from topics import views
from topics.api import topic_message_record
from topics.browse import views as browse_views
from topics.produce import views as produce_views
from topics.replay import views as replay_views
from topics.tail import views as tail_views

app_name = "topics"

urlpatterns = [
    path("", views.topic_list, name="list"),
    # "+" cannot appear in a topic name, so no topic can shadow this URL.
    path("+new/", views.topic_create, name="create"),
    path("<str:topic>/", views.topic_detail, name="detail"),
    path("<str:topic>/configs/", views.topic_configs, name="configs"),
    path("<str:topic>/configs/edit/", views.topic_config_edit, name="config_edit"),
    path("<str:topic>/skew/", views.topic_skew, name="skew"),
    # Each operation: GET previews it (nothing changes), POST confirms what was previewed.
    path("<str:topic>/operations/", views.topic_operations, name="operations"),
    path("<str:topic>/delete/", views.topic_delete, name="delete"),
    path("<str:topic>/partitions/", views.topic_partitions_add, name="partitions_add"),
    path("<str:topic>/purge/", views.topic_purge, name="purge"),
    path("<str:topic>/messages/", browse_views.topic_messages, name="messages"),
    path(
        "<str:topic>/messages/search/", browse_views.topic_messages_search, name="messages_search"
    ),
    path("<str:topic>/messages/record/", topic_message_record, name="message_record"),
    path(
        "<str:topic>/messages/download/",
        browse_views.topic_messages_download,
        name="messages_download",
    ),
    path("<str:topic>/tail/", tail_views.topic_tail, name="tail"),
    path("<str:topic>/produce/", produce_views.produce_page, name="produce"),
    path("<str:topic>/produce/preview/", produce_views.produce_preview, name="produce_preview"),
    path("<str:topic>/produce/message/", produce_views.produce_message, name="produce_message"),
    path("<str:topic>/produce/generate/", produce_views.produce_generate, name="produce_generate"),
    path("<str:topic>/replay/", replay_views.replay_page, name="replay"),
    path("<str:topic>/replay/message/", replay_views.replay_message, name="replay_message"),
    path("<str:topic>/replay/copy/", replay_views.replay_copy, name="replay_copy"),
    path("<str:topic>/replay/redrive/", replay_views.replay_redrive, name="replay_redrive"),
    path("<str:topic>/replay/import/", replay_views.replay_import, name="replay_import"),
    path("<str:topic>/replay/confirm/", replay_views.replay_confirm, name="replay_confirm"),
]
