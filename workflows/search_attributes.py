"""Search attributes on every deal, so Temporal's UI and `temporal workflow list --query` find deals."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("KuayueStage")
BROKER = SearchAttributeKey.for_keyword("KuayueBroker")
CENTRE = SearchAttributeKey.for_keyword("KuayueCentre")
INDUSTRY = SearchAttributeKey.for_keyword("KuayueIndustry")
REGION = SearchAttributeKey.for_keyword("KuayueRegion")
NEXT_DUE = SearchAttributeKey.for_datetime("KuayueNextDue")
ESCALATION_LEVEL = SearchAttributeKey.for_int("KuayueEscalationLevel")

ALL = (STAGE, BROKER, CENTRE, INDUSTRY, REGION, NEXT_DUE, ESCALATION_LEVEL)
