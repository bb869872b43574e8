"""Partners' answer deadlines from the registration rules (policy/registration-<version>.json).

A financing partner answers within `answer_working_days[kind]`; the registration office within
`registration_working_days`, or `expert_review_working_days` when the contract's total value reaches the
expert-review threshold. The ladder (50/80/100/150 %) is counted exactly as a stage's, by the stage planner.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deadlines import DeadlinePlanner
from domain.partners import AnswerPlan, AnswerPlanRequest, PartnerKind, RegistrationRules
from domain.sla import DeadlinePlan
from domain.stages import Stage


class AnswerPlanner:
    """Plans a partner request's answer ladder (activity `partners.plan_answer`)."""

    def __init__(self, rules: RegistrationRules, stages: DeadlinePlanner) -> None:
        self._rules = rules
        self._stages = stages

    @activity.defn(name="partners.plan_answer")
    async def plan_answer(self, request: AnswerPlanRequest) -> AnswerPlan:
        rules = self._rules
        if request.started_at.tzinfo is None:
            raise ApplicationError("started_at has no timezone", type="InvalidPlanRequest", non_retryable=True)
        expert = False
        if request.kind == PartnerKind.REGISTRATION_OFFICE:
            expert = rules.needs_expert_review(request.amount_fen)
            budget = rules.expert_review_working_days if expert else rules.registration_working_days
            stage = Stage.SIGNING
        else:
            budget, stage = rules.answer_working_days[request.kind], Stage.FINANCING
        policy = self._stages.policy
        plan = DeadlinePlan(
            stage=stage,
            started_at=request.started_at,
            budget_working_days=budget,
            steps=self._stages.ladder(request.started_at, budget),
            policy_version=f"registration-{rules.version}",
            calendar_version=self._stages.calendar_version,
            inactivity_lapse_days=policy.inactivity_lapse_days,
        )
        return AnswerPlan(request_id=request.request_id, plan=plan, expert_review=expert, rules_version=rules.version)
