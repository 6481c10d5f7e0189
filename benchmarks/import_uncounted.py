"""`manage.py import_leads` with the reporting's counting switched off, for the imports
benchmark only: how long the import itself takes (the issue's "import alone"), against the
same SQL floor. A real import always counts its leads before it says done.

    python -m benchmarks.import_uncounted FILE --campaign SLUG     (from the project root)
"""

import sys

from benchmarks.harness import django_setup


def main() -> None:
    django_setup()
    from django.core.management import call_command

    from campaigns.models import CampaignMembership
    from campaigns.signals import import_batch_written, membership_changed
    from funnel.imports import leads_importing

    # The batch's leads are gathered from these announcements and counted when the batch is
    # written; with them gone, nothing is counted (nor left over for a commit hook).
    leads_importing.disconnect(dispatch_uid="dashboards-leads-importing")
    import_batch_written.disconnect(
        sender=CampaignMembership, dispatch_uid="dashboards-import-batch"
    )
    membership_changed.disconnect(sender=CampaignMembership, dispatch_uid="dashboards-membership")
    call_command("import_leads", *sys.argv[1:])


if __name__ == "__main__":
    main()
