"""Serializers only validate and shape; the services decide."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leads.fields import EDITABLE_FIELDS
from leads.models import Lead
from leads.normalise import clean_email
from leads.selectors import lead_prediction
from leads.stages import Stage
from leads.touches import lead_touches

from .criteria import criteria_results
from .lifecycle import ENTRY_STAGES
from .models import Opportunity, ReasonCode
from .pipeline import lead_deal


class CriterionSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField(allow_null=True, help_text="null: not evaluated")
    required = serializers.BooleanField()
    detail = serializers.CharField(allow_blank=True)


class LeadSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        allow_null=True,
        required=False,
    )
    funnel = serializers.CharField(read_only=True)

    class Meta:
        model = Lead
        fields = (
            "id",
            *EDITABLE_FIELDS,
            "owner",
            "stage",
            "funnel",
            "stage_changed_at",
            "score",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "id",
            "stage",
            "funnel",
            "stage_changed_at",
            "score",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {
            # Uniqueness is the service's to answer, as a 409 with the existing id.
            "email": {"validators": []},
            "external_id": {"validators": []},
        }


class TouchSerializer(serializers.Serializer):
    """A first or last touch: the campaign (slug) and channel, and the touch's attribution."""

    campaign = serializers.CharField()
    channel = serializers.CharField()
    utm_source = serializers.CharField()
    utm_medium = serializers.CharField()
    utm_campaign = serializers.CharField()
    utm_term = serializers.CharField()
    utm_content = serializers.CharField()
    gclid = serializers.CharField()
    referrer = serializers.CharField()
    landing_page = serializers.CharField()
    at = serializers.DateTimeField()


# --- the lead's deal (contract v2, "Deals") ---
class DealSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    owner = serializers.CharField(source="owner.username", allow_null=True, default=None)
    pipeline_stage = serializers.CharField(source="pipeline_stage.slug")
    expected_close = serializers.DateField()
    closed_at = serializers.DateTimeField(allow_null=True)
    status = serializers.ChoiceField(choices=Opportunity.Status.choices)


class PredictionReasonSerializer(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    contribution = serializers.FloatField(help_text="on the logit scale; sums with the base")


class LeadDetailSerializer(LeadSerializer):
    criteria = serializers.SerializerMethodField()
    first_touch = serializers.SerializerMethodField()
    last_touch = serializers.SerializerMethodField()
    deal = serializers.SerializerMethodField()
    # Predictive score: the scorer's latest row, null before a model is trained.
    probability = serializers.SerializerMethodField()
    reasons = serializers.SerializerMethodField()

    class Meta(LeadSerializer.Meta):
        fields = (
            *LeadSerializer.Meta.fields,
            "criteria",
            "first_touch",
            "last_touch",
            "deal",
            "probability",
            "reasons",
        )

    def get_criteria(self, lead) -> list[dict]:
        return CriterionSerializer(criteria_results(lead), many=True).data

    def _touches(self, lead):
        cache = self.__dict__.setdefault("_touch_cache", {})
        if lead.pk not in cache:
            cache[lead.pk] = lead_touches(lead)
        return cache[lead.pk]

    @extend_schema_field(TouchSerializer(allow_null=True))
    def get_first_touch(self, lead) -> dict | None:
        first, _ = self._touches(lead)
        return TouchSerializer(first).data if first else None

    @extend_schema_field(TouchSerializer(allow_null=True))
    def get_last_touch(self, lead) -> dict | None:
        _, last = self._touches(lead)
        return TouchSerializer(last).data if last else None

    @extend_schema_field(DealSerializer(allow_null=True))
    def get_deal(self, lead) -> dict | None:
        deal = lead_deal(lead)
        return DealSerializer(deal).data if deal is not None else None

    def get_probability(self, lead) -> float | None:
        prediction = lead_prediction(lead)
        return round(prediction.probability, 4) if prediction else None

    @extend_schema_field(PredictionReasonSerializer(many=True))
    def get_reasons(self, lead) -> list[dict]:
        prediction = lead_prediction(lead)
        return prediction.reasons if prediction else []


class LeadWriteSerializer(serializers.Serializer):
    """Fields a client may send to create or change a lead."""

    email = serializers.CharField(max_length=254, required=False, allow_null=True, allow_blank=True)
    external_id = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    company = serializers.CharField(max_length=255, required=False, allow_blank=True)
    title = serializers.CharField(max_length=255, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    country = serializers.CharField(max_length=100, required=False, allow_blank=True)
    city = serializers.CharField(max_length=100, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=150, required=False, allow_blank=True)
    company_size = serializers.IntegerField(
        min_value=0, max_value=10_000_000, required=False, allow_null=True
    )
    website = serializers.CharField(max_length=255, required=False, allow_blank=True)
    source = serializers.CharField(max_length=150, required=False, allow_blank=True)
    do_not_email = serializers.BooleanField(required=False)
    attributes = serializers.DictField(required=False)
    owner = serializers.CharField(required=False, allow_null=True, max_length=150)
    stage = serializers.ChoiceField(choices=ENTRY_STAGES, required=False)
    # Consent: setting do_not_email back to false is a manager's, with the reason (logged).
    consent_reason = serializers.CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        write_only=True,
        help_text="Why a lead that does not want e-mail may be e-mailed again (managers).",
    )

    ignored_fields = {
        "id",
        "funnel",
        "stage_changed_at",
        "score",
        "created_at",
        "updated_at",
        "criteria",
        "first_touch",
        "last_touch",
        "deal",
        "probability",
        "reasons",
    }

    def validate_email(self, value):
        try:
            return clean_email(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages[0]) from None

    def validate(self, attrs):
        unknown = set(self.initial_data) - set(self.fields) - self.ignored_fields
        if unknown:
            raise serializers.ValidationError(
                {name: ["Not a lead field."] for name in sorted(unknown)}
            )
        if self.partial and "stage" in attrs:
            raise serializers.ValidationError(
                {"stage": ["Change a lead's stage with POST /api/leads/{id}/transitions/."]}
            )
        if (
            not self.partial
            and not attrs.get("email")
            and not (attrs.get("external_id") or "").strip()
        ):
            raise serializers.ValidationError(
                {"email": ["A lead needs an e-mail or an external id."]}
            )
        return attrs


class TransitionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead = serializers.IntegerField(source="lead_id", read_only=True)
    # "from" is a Python keyword, so it joins the fields in get_fields().
    to = serializers.CharField(source="to_stage", read_only=True)
    verb = serializers.CharField(read_only=True)
    actor = serializers.CharField(source="actor_label", read_only=True)
    at = serializers.DateTimeField(read_only=True)
    reason = serializers.CharField(source="reason.code", read_only=True, allow_null=True)
    note = serializers.CharField(read_only=True)
    campaign = serializers.CharField(source="campaign.slug", read_only=True, allow_null=True)
    data = serializers.JSONField(read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        ordered = {"id": fields.pop("id"), "lead": fields.pop("lead")}
        ordered["from"] = serializers.CharField(source="from_stage", read_only=True)
        ordered.update(fields)
        return ordered


class TransitionRequestSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=Stage.choices)
    reason = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)
    note = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=5000)
    budget = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    authority = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    need = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    timeline = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    amount = serializers.CharField(required=False, max_length=40)
    expected_close = serializers.CharField(required=False, max_length=40)
    pipeline_stage = serializers.SlugField(required=False, max_length=64)
    currency = serializers.CharField(required=False, max_length=3)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.ChoiceField(choices=Stage.choices, required=False)
        return fields


class ReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonCode
        fields = ("code", "label", "applies_to")


class BulkTransitionRequestSerializer(TransitionRequestSerializer):
    leads = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
    )


class BulkResultSerializer(serializers.Serializer):
    lead = serializers.IntegerField()
    status = serializers.IntegerField(help_text="201 done; 400, 403, 404 or 409 refused")
    code = serializers.CharField(required=False)
    detail = serializers.CharField(required=False)
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )
    transition = TransitionSerializer(required=False)


class BulkTransitionResponseSerializer(serializers.Serializer):
    done = serializers.IntegerField()
    refused = serializers.IntegerField()
    results = BulkResultSerializer(many=True)
