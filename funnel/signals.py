from django.dispatch import Signal

# Sent on commit after a lead changed stage, with keyword arguments:
# lead_id, transition_id, from_stage, to_stage, verb, reason (a code or "").
stage_changed = Signal()
