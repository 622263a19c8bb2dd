from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from console.access import ROLES, grant_role


class Command(BaseCommand):
    help = "Create (or update) a user with a role: viewer, operator or admin."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", choices=sorted(ROLES), required=True)
        parser.add_argument("--password", required=True)

    def handle(self, *args, username: str, role: str, password: str, **options):
        user, created = get_user_model().objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
        grant_role(user, role)
        self.stdout.write(f"{'created' if created else 'updated'} {username} ({role})")
