from django.dispatch import Signal

# Sent inside the erasure's transaction (not on commit), with lead_id: every app that keeps
# personal data about the lead removes it then, so the erasure is all or nothing.
lead_erased = Signal()

# Sent inside the edit's transaction when a person changes a lead's `do_not_email`, with
# lead_id, do_not_email (the new value), actor and reason: the nurture app logs it beside the
# unsubscribes, so the log of a lead's consent is whole or the edit is not made.
lead_consent_changed = Signal()
