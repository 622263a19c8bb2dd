import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from console.clusters import all_clusters, get_cluster
from console.kafka.demo import demo_crowd_forever


class Command(BaseCommand):
    help = "Keep 8 consumers of group clicks-dashboard alive on the 6-partition clicks topic."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", default="")
        parser.add_argument("--members", type=int, default=8)

    def handle(self, *args, cluster: str, members: int, **options):
        target = get_cluster(cluster) if cluster else (all_clusters() or [None])[0]
        if target is None:
            raise CommandError("no cluster configured")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        demo_crowd_forever(target, members=members, stop=stop)
