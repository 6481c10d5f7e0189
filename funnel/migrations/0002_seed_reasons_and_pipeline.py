from django.db import migrations

from funnel.defaults import seed_defaults


def seed(apps, schema_editor):
    seed_defaults(apps.get_model("funnel", "ReasonCode"), apps.get_model("funnel", "PipelineStage"))


class Migration(migrations.Migration):
    dependencies = [("funnel", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
