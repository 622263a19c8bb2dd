import contextlib
import random
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from console.clusters import all_clusters, get_cluster
from console.generators import clickstream_event
from console.kafka.demo import demo_feed_forever


class Command(BaseCommand):
    help = "Keep producing clickstream events to the demo 'clicks' topic until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", default="")
        parser.add_argument("--rate", type=float, default=5.0, help="events per second")

    def handle(self, *args, cluster: str, rate: float, **options):
        target = get_cluster(cluster) if cluster else (all_clusters() or [None])[0]
        if target is None:
            raise CommandError("no cluster configured")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            rng = random.Random()
            demo_feed_forever(
                target, event=lambda seq: clickstream_event(rng, seq), rate=rate, stop=stop
            )
