"""A real Celery worker process runs the console's tasks, on both broker transports."""

import pytest
from django.urls import reverse

from console.celery import app
from console.jobs import job_create
from console.tasks import cluster_probe
from tests.conftest import start_celery_worker, wait_job

pytestmark = [pytest.mark.kafka, pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_worker_check_runs_on_the_session_worker(celery_worker, client_for):
    r = client_for("viewer").post(reverse("console:worker_check", args=["local"]))
    assert r.status_code == 302
    job_id = r.url.rstrip("/").split("/")[-1]
    job = wait_job(job_id)
    assert job.state == "succeeded", job.error
    assert [b["id"] for b in job.result["brokers"]] == [1]
    page = client_for("admin").get(r.url).content.decode()
    assert "succeeded" in page


@pytest.mark.parametrize("transport", ["embedded", "redis"])
def test_worker_on_each_transport(transport, kafka, tmp_path, request, django_db_setup):
    """Demo mode (kombu's SQLAlchemy transport on SQLite) and Redis mode, each a real worker."""
    if transport == "redis":
        url = request.getfixturevalue("redis_server")
    else:
        url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    worker = start_celery_worker(tmp_path, CELERY_BROKER_URL=url)
    try:
        job = job_create(kind="cluster_probe", cluster="local")
        with app.connection_for_write(url) as conn:
            cluster_probe.apply_async(kwargs={"job_id": str(job.id)}, connection=conn)
        job = wait_job(job.id)
        assert job.state == "succeeded", job.error
        assert job.result["partitions"] >= 0
    finally:
        worker.stop()
    assert "ready." in worker.output()
