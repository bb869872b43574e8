"""The auditor's pages (审计): replay and re-derivation, state at a moment, chain verification, evidence export, who did what.

Read-only: the only forms are queries (GET, and one POST that starts a verification job, CSRF-checked). Who may
open them: auditors and the provincial hub admin for every deal; a centre manager for the deals `web.scope` shows
them (the same rule as every other page, so any other deal answers 404); brokers not at all (403).
"""

from __future__ import annotations

import tempfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from audit.actions import actions_of
from audit.export import export_bundle
from audit.histories import HistoryUnavailable, StoredHistoryCorrupt, load_runs
from audit.rederive import archived_events_of, rederive
from audit.replay import DealReplayer
from audit.state_at import events_until
from audit.verify import VerificationReport, verify_archive, verify_centre, verify_deal
from domain.actors import Role
from domain.decider import fold
from store.models import DealRecord
from web import deals
from web.audit_jobs import VerificationJob, VerificationJobs
from web.auth import check_csrf, page_user, services
from web.deals import DealNotVisible, Forbidden, Services
from web.rendering import render
from web.scope import scope_of
from web.timeline import what, who
from web.users import User

router = APIRouter(prefix="/audit")
Svc = Annotated[Services, Depends(services)]
BEIJING = ZoneInfo("Asia/Shanghai")
ACTIONS_LIMIT = 1_000  # rows on one "who did what" page; narrow the period to see the rest
AUDIT_ROLES = {Role.AUDITOR, Role.HUB_ADMIN, Role.MANAGER}
WHOLE_ARCHIVE_ROLES = {Role.AUDITOR, Role.HUB_ADMIN}


class BadQuery(ValueError):
    """A query field the auditor typed cannot be read; the message (Chinese) says what is allowed."""


def auditor(user: Annotated[User, Depends(page_user)]) -> User:
    """The signed-in user, if their role may open the audit pages."""
    if user.role not in AUDIT_ROLES:
        raise Forbidden("审计页面仅对审计员、省中心管理员和中心管理员开放")
    return user


Auditor = Annotated[User, Depends(auditor)]


def _jobs(request: Request) -> VerificationJobs:
    jobs: VerificationJobs | None = getattr(request.app.state, "verification_jobs", None)
    if jobs is None:
        jobs = request.app.state.verification_jobs = VerificationJobs()
    return jobs


@router.get("", response_class=HTMLResponse)
def audit_home(request: Request, user: Auditor, deal: str | None = None) -> Response:
    if deal and deal.strip():
        return RedirectResponse(f"/audit/deals/{quote(deal.strip(), safe='')}", status_code=303)
    return render(request, "audit/home.html", {"me": user, "whole_archive": user.role in WHOLE_ARCHIVE_ROLES})


@router.get("/deals/{deal_id}", response_class=HTMLResponse)
def audit_deal(request: Request, deal_id: str, user: Auditor, svc: Svc) -> Response:
    summary = deals.visible_deal(svc, user.actor, deal_id)
    with svc.sessions() as session:
        report = verify_deal(session, deal_id)
    return render(request, "audit/deal.html", {"me": user, "d": summary, "report": report})


@router.get("/deals/{deal_id}/replay", response_class=HTMLResponse)
async def audit_replay(request: Request, deal_id: str, user: Auditor, svc: Svc) -> Response:
    """Replay every run with today's code and compare the events and heads it produces with the archive."""
    summary = deals.visible_deal(svc, user.actor, deal_id)
    context: dict[str, object] = {"me": user, "d": summary, "result": None, "run_rows": [], "unavailable": None}
    with svc.sessions() as session:
        archived = archived_events_of(session, [deal_id]).get(deal_id, [])
    try:
        runs = await load_runs(svc.client, svc.sessions, deal_id)
        # A replayer per request: it collects the events of the histories it replays.
        context["result"] = result = await rederive(DealReplayer(), runs, archived)
    except (HistoryUnavailable, StoredHistoryCorrupt) as exc:  # a kept run is checked when it is read
        context["unavailable"] = str(exc)
        return render(request, "audit/replay.html", context)
    context["run_rows"] = list(zip(runs, result.runs, strict=True))
    context["archived_count"] = len(archived)
    return render(request, "audit/replay.html", context)


@router.get("/deals/{deal_id}/state", response_class=HTMLResponse)
def audit_state(request: Request, deal_id: str, user: Auditor, svc: Svc, at: str = "", seq: str = "") -> Response:
    """The deal's folded state as of a moment (Beijing time) or a seq, from the archive."""
    summary = deals.visible_deal(svc, user.actor, deal_id)
    context: dict[str, object] = {"me": user, "d": summary, "at": at, "seq": seq, "state": None, "events": [], "error": None}
    if not at.strip() and not seq.strip():
        return render(request, "audit/state.html", context)
    try:
        moment = _moment(at) if at.strip() else None
        upto = _seq(seq) if seq.strip() else None
    except BadQuery as exc:
        context["error"] = str(exc)
        return render(request, "audit/state.html", context, status_code=422)
    with svc.sessions() as session:
        events = events_until(session, deal_id, seq=upto, at=moment)
    context["events"] = [(e, who(e), what(e)) for e in events]
    context["state"] = fold(events)
    context["state_json"] = fold(events).model_dump_json(indent=2)
    return render(request, "audit/state.html", context)


@router.get("/deals/{deal_id}/export")
async def audit_export(deal_id: str, user: Auditor, svc: Svc, background: BackgroundTasks) -> Response:
    """The deal's evidence bundle (.zip), written to a temporary file, streamed, then deleted."""
    deals.visible_deal(svc, user.actor, deal_id)
    scratch = Path(tempfile.mkdtemp(prefix="kuayue-evidence-"))
    out = scratch / f"evidence-{deal_id}.zip"
    try:
        await export_bundle(svc.client, svc.sessions, [deal_id], out)
    except BaseException:
        _remove(scratch)
        raise
    background.add_task(_remove, scratch)
    return FileResponse(out, media_type="application/zip", filename=out.name)


def _remove(scratch: Path) -> None:
    for path in scratch.iterdir():
        path.unlink()
    scratch.rmdir()


@router.post("/verify", dependencies=[Depends(check_csrf)])
async def audit_verify_start(request: Request, user: Auditor, svc: Svc) -> Response:
    """Start verifying a centre's deals or the whole archive in the background; answers with the job's page."""
    form = await request.form()
    centre = str(form.get("centre") or "").strip()
    if centre:
        if user.role == Role.MANAGER and centre != user.centre_id:
            raise Forbidden(f"中心管理员只能校验本中心（{user.centre_id}）的案件")
        scope = f"centre:{centre}"

        def verify() -> VerificationReport:
            with svc.sessions() as session:
                return verify_centre(session, centre)
    else:
        if user.role not in WHOLE_ARCHIVE_ROLES:
            raise Forbidden("只有审计员和省中心管理员可以校验整个存档")
        scope = "all"

        def verify() -> VerificationReport:
            with svc.sessions() as session:
                return verify_archive(session)

    job = _jobs(request).start(scope, user.username, verify)
    return RedirectResponse(f"/audit/verify/{job.id}", status_code=303)


@router.get("/verify/{job_id}", response_class=HTMLResponse)
def audit_verify_job(request: Request, job_id: str, user: Auditor) -> Response:
    job = _jobs(request).get(job_id)
    if job is None or not _may_see_job(user, job):
        raise DealNotVisible(job_id)
    return render(request, "audit/verify_job.html", {"me": user, "job": job})


def _may_see_job(user: User, job: VerificationJob) -> bool:
    return user.role in WHOLE_ARCHIVE_ROLES or job.scope == f"centre:{user.centre_id}"


@router.get("/actions", response_class=HTMLResponse)
def audit_actions(request: Request, user: Auditor, svc: Svc, actor: str = "", since: str = "", until: str = "") -> Response:
    """Who did what: one person's archived actions over a period (Beijing days, both ends included)."""
    context: dict[str, object] = {"me": user, "actor": actor, "since": since, "until": until, "rows": None, "error": None}
    if not actor.strip():
        return render(request, "audit/actions.html", context)
    try:
        start = _day(since, "起始日期") if since.strip() else None
        end = _day(until, "截止日期") + timedelta(days=1) if until.strip() else None
        if start and end and start >= end:
            raise BadQuery(f"起始日期 {since} 晚于截止日期 {until}")
    except BadQuery as exc:
        context["error"] = str(exc)
        return render(request, "audit/actions.html", context, status_code=422)
    with svc.sessions() as session:
        events = actions_of(session, actor.strip(), since=start, until=end)
        conditions = scope_of(user.actor).conditions()
        if conditions:  # not every deal: keep the actions on deals this user may see (the pages' one rule)
            ids = {e.deal_id for e in events}
            visible = set(session.scalars(select(DealRecord.deal_id).where(DealRecord.deal_id.in_(ids), *conditions)))
            events = [e for e in events if e.deal_id in visible]
    context["rows"] = [(e, who(e), what(e)) for e in events[:ACTIONS_LIMIT]]
    context["total"] = len(events)
    context["limit"] = ACTIONS_LIMIT
    return render(request, "audit/actions.html", context)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadQuery(f"时间「{text}」无法识别；请写成 2026-03-05T18:00（北京时间）或带时区的 ISO 时间") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _seq(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise BadQuery(f"序号「{text}」无效；应为 1 或更大的整数")
    return int(text)


def _day(text: str, label: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=BEIJING)
    except ValueError as exc:
        raise BadQuery(f"{label}「{text}」无法识别；请写成 2026-03-05") from exc
