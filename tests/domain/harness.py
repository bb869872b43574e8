"""Drives the pure decider the way the workflow does (decide, plan if asked, decide again, evolve)."""

from __future__ import annotations

from datetime import datetime

from domain.commands import Command, Context
from domain.decider import answer_plan_request, decide, fold, initial_state, plan_request
from domain.events import Event
from domain.state import DealState
from tests.factories import simple_answer_plan, simple_plan


class PureDeal:
    def __init__(self) -> None:
        self.state: DealState = initial_state()
        self.events: list[Event] = []

    def run(self, command: Command, now: datetime) -> list[Event]:
        events = decide(self.state, command, Context(now=now))
        request = plan_request(self.state, events)
        if request is not None:
            plan = simple_plan(request.stage, request.started_at, extra=request.extra_working_days)
            events = decide(self.state, command, Context(now=now, plan=plan))
        answer_request = answer_plan_request(self.state, events)
        if answer_request is not None:
            events = decide(self.state, command, Context(now=now, answer_plan=simple_answer_plan(answer_request)))
        self.state = fold(events, self.state)
        self.events.extend(events)
        return events
