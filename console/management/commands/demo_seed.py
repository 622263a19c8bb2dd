import random

from django.core.management.base import BaseCommand, CommandError

from console.clusters import all_clusters, get_cluster
from console.generators import clickstream_event, order_event
from console.kafka.demo import DEMO_GROUP, demo_group_consume, demo_produce, demo_topics_create
from console.kafka.errors import KafkaConsoleError


class Command(BaseCommand):
    help = "Create the demo topics (clicks, orders), fill them, and leave a group with lag."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", default="", help="cluster name (default: the first)")
        parser.add_argument("--clicks", type=int, default=20000)
        parser.add_argument("--orders", type=int, default=2000)

    def handle(self, *args, cluster: str, clicks: int, orders: int, **options):
        target = get_cluster(cluster) if cluster else (all_clusters() or [None])[0]
        if target is None:
            raise CommandError("no cluster configured (see README: Configuration)")
        try:
            created = demo_topics_create(target)
            if created:
                demo_produce(target, _demo_records(clicks=clicks, orders=orders, seed=7))
                committed = demo_group_consume(target)
                self.stdout.write(
                    f"demo data: topics {', '.join(created)}; {clicks} clicks, {orders} orders; "
                    f"group {DEMO_GROUP} committed {committed} offsets"
                )
            else:
                self.stdout.write("demo data already present")
        except KafkaConsoleError as exc:
            raise CommandError(str(exc)) from exc


def _demo_records(*, clicks: int, orders: int, seed: int):
    """`clicks` clickstream events, then `orders` order events, as (topic, key, value)."""
    rng = random.Random(seed)
    for seq in range(clicks):
        yield ("clicks", *clickstream_event(rng, seq))
    for seq in range(orders):
        yield ("orders", *order_event(rng, seq))
