from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0003_lag_snapshot"),
    ]

    operations = [
        migrations.CreateModel(
            name="ThroughputSample",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(db_index=True)),
                ("cluster", models.CharField(max_length=64)),
                ("topic", models.CharField(blank=True, max_length=255)),
                ("end", models.BigIntegerField()),
                ("produced", models.BigIntegerField(default=0)),
            ],
            options={
                "ordering": ["at"],
                "indexes": [
                    models.Index(
                        fields=["cluster", "topic", "at"], name="console_thr_cluster_b45e50_idx"
                    )
                ],
            },
        ),
    ]
