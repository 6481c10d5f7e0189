from django.dispatch import Signal

# Sent inside the erasure's transaction (not on commit), with lead_id: every app that keeps
# personal data about the lead removes it then, so the erasure is all or nothing.
lead_erased = Signal()
