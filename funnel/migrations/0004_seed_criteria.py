from django.db import migrations

from funnel.criteria import FREE_MAIL_DOMAINS


def seed(apps, schema_editor):
    criterion = apps.get_model("funnel", "AcceptanceCriterion")
    if not criterion.objects.exists():
        criterion.objects.create(
            name="Business e-mail",
            kind="business_email",
            field="email",
            values=FREE_MAIL_DOMAINS,
            required=True,
            order=10,
        )
    apps.get_model("funnel", "WorkspaceSettings").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("funnel", "0003_workspace")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
