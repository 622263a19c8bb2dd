from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0004_throughput_sample"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="worker",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="job",
            name="attempts",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="job",
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(fields=["state", "heartbeat_at"], name="console_job_state_hb"),
        ),
    ]
