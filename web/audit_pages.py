"""The auditor's pages (审计): replay and re-derivation, state at a moment, chain verification, evidence export, who did what.

Read-only: the only forms are queries (GET, and one POST that starts a verification job, CSRF-checked). Who may
open them: auditors and the provincial hub admin for every deal; a centre manager for the deals `web.scope` shows
them (the same rule as every other page, so any other deal answers 404); brokers not at all (403). Verification
jobs: `web.scope.verification_scope` and `visible_verification_scopes`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Annotated
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlalchemy import ColumnElement, select
from starlette.concurrency import run_in_threadpool

from audit.actions import actions_of, count_actions, iter_actions
from audit.export import export_bundle
from audit.histories import HistoryUnavailable, StoredHistoryCorrupt, load_runs
from audit.rederive import archived_events_of, rederive
from audit.replay import DealReplayer
from audit.state_at import events_until
from audit.verify import verify_deal
from domain.actors import Role
from domain.decider import fold
from domain.events import Event
from store.models import DealRecord, EventRecord
from web import deals
from web.audit_jobs import VerificationJobs
from web.auth import check_csrf, page_user, services
from web.deals import Forbidden, Services
from web.i18n import Gettext, gettext_for, language_of
from web.rendering import render
from web.scope import ARCHIVE_SCOPE, scope_of, verification_scope, visible_verification_scopes
from web.timeline import what, who
from web.users import User

router = APIRouter(prefix="/audit")
Svc = Annotated[Services, Depends(services)]
BEIJING = ZoneInfo("Asia/Shanghai")
ACTIONS_LIMIT = 1_000  # rows on one "who did what" page; narrow the period to see the rest, or take the CSV
AUDIT_ROLES = {Role.AUDITOR, Role.HUB_ADMIN, Role.MANAGER}
WHOLE_ARCHIVE_ROLES = {Role.AUDITOR, Role.HUB_ADMIN}
CHUNK = 1 << 16  # bytes per piece of a streamed download
CSV_LINES_PER_PIECE = 500

# What a query field the auditor typed can be told, in the pages' language (the English is in messages.po).
BAD_MOMENT = "时间「%(text)s」无法识别；请写成 2026-03-05T18:00（北京时间）或带时区的 ISO 时间"
BAD_SEQ = "序号「%(text)s」无效；应为 1 或更大的整数"
BAD_DAY = "%(label)s「%(text)s」无法识别；请写成 2026-03-05"
BACKWARDS = "起始日期 %(since)s 晚于截止日期 %(until)s"
SINCE, UNTIL = "起始日期", "截止日期"
NO_ACTOR = "请填写要查询的用户名"
QUERY_MESSAGES = (BAD_MOMENT, BAD_SEQ, BAD_DAY, BACKWARDS, SINCE, UNTIL)
# The "who did what" CSV's columns, in the pages' language.
CSV_COLUMNS = ("时间（北京时间）", "案件", "序号", "用户", "身份", "中心", "事件类型", "操作", "命令编号")


class BadQuery(ValueError):
    """A query field the auditor typed cannot be read; `message` % `values` says what is allowed."""

    def __init__(self, message: str, **values: str) -> None:
        super().__init__(message % values)
        self.message, self.values = message, values

    def said(self, _: Gettext) -> str:
        """The message in the page's language (a field's name too; what was typed stays as typed)."""
        return _(self.message, **{k: _(v) if v in (SINCE, UNTIL) else v for k, v in self.values.items()})


def auditor(user: Annotated[User, Depends(page_user)]) -> User:
    """The signed-in user, if their role may open the audit pages."""
    if user.role not in AUDIT_ROLES:
        raise Forbidden("审计页面仅对审计员、省中心管理员和中心管理员开放", code="audit_not_allowed")
    return user


Auditor = Annotated[User, Depends(auditor)]


def _jobs(request: Request) -> VerificationJobs:
    jobs: VerificationJobs = request.app.state.verification_jobs
    return jobs


@router.get("", response_class=HTMLResponse)
def audit_home(request: Request, user: Auditor, deal: str | None = None) -> Response:
    if deal and deal.strip():
        return RedirectResponse(f"/audit/deals/{quote(deal.strip(), safe='')}", status_code=303)
    jobs = _jobs(request).recent(visible_verification_scopes(user.actor))
    context = {"me": user, "whole_archive": user.role in WHOLE_ARCHIVE_ROLES, "jobs": jobs}
    return render(request, "audit/home.html", context)


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
        context["error"] = exc.said(gettext_for(language_of(request)))
        return render(request, "audit/state.html", context, status_code=422)
    with svc.sessions() as session:
        events = events_until(session, deal_id, seq=upto, at=moment)
    context["events"] = [(e, who(e), what(e)) for e in events]
    context["state"] = fold(events)
    context["state_json"] = fold(events).model_dump_json(indent=2)
    return render(request, "audit/state.html", context)


@router.get("/deals/{deal_id}/export")
async def audit_export(deal_id: str, user: Auditor, svc: Svc) -> Response:
    """The deal's evidence bundle (.zip): built on a thread into a temporary file, then streamed from it.

    The file is unlinked as soon as it is open, so nothing stays on disk whatever becomes of the download; the open
    handle keeps its bytes until the last piece is sent. Neither the build nor the download holds the bundle in memory.
    """
    await run_in_threadpool(deals.visible_deal, svc, user.actor, deal_id)
    scratch = Path(tempfile.mkdtemp(prefix="kuayue-evidence-"))
    out = scratch / f"evidence-{deal_id}.zip"
    build = asyncio.ensure_future(export_bundle(svc.client, svc.sessions, [deal_id], out))
    try:
        await asyncio.shield(build)  # a request cancelled mid-build must not leave the thread writing into a removed folder
    except asyncio.CancelledError:
        build.add_done_callback(lambda _: shutil.rmtree(scratch, ignore_errors=True))
        raise
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    bundle = out.open("rb")
    shutil.rmtree(scratch)
    size = os.fstat(bundle.fileno()).st_size
    headers = {"Content-Length": str(size), "Content-Disposition": _attachment(out.name)}
    return StreamingResponse(_pieces(bundle), media_type="application/zip", headers=headers)


def _pieces(data: IO[bytes]) -> Iterator[bytes]:
    """The file in pieces (each read on a worker thread by the response); closed at the end or when the client goes."""
    with data:
        while piece := data.read(CHUNK):
            yield piece


def _attachment(filename: str) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=utf-8''{quote(filename, safe='')}"


@router.post("/verify", dependencies=[Depends(check_csrf)])
async def audit_verify_start(request: Request, user: Auditor) -> Response:
    """Start verifying a centre's deals or the whole archive as a job; answers with the job's page."""
    form = await request.form()
    scope = verification_scope(user.actor, str(form.get("centre") or "").strip() or None)
    job_id = await run_in_threadpool(_jobs(request).start, scope, user.username)
    return RedirectResponse(f"/audit/verify/{job_id}", status_code=303)


@router.get("/verify/{job_id}", response_class=HTMLResponse)
def audit_verify_job(request: Request, job_id: str, user: Auditor) -> Response:
    job = _jobs(request).get(job_id)
    visible = visible_verification_scopes(user.actor)
    if job is None or (visible is not None and job.scope not in visible):
        raise HTTPException(404, f"没有编号为 {job_id} 的校验任务，或您无权查看")
    return render(request, "audit/verify_job.html", {"me": user, "job": job, "archive_scope": ARCHIVE_SCOPE})


@router.get("/actions", response_class=HTMLResponse)
def audit_actions(request: Request, user: Auditor, svc: Svc, actor: str = "", since: str = "", until: str = "") -> Response:
    """Who did what: one person's archived actions over a period (Beijing days, both ends included)."""
    context: dict[str, object] = {"me": user, "actor": actor, "since": since, "until": until, "rows": None, "error": None}
    if not actor.strip():
        return render(request, "audit/actions.html", context)
    try:
        start, end = _period(since, until)
    except BadQuery as exc:
        context["error"] = exc.said(gettext_for(language_of(request)))
        return render(request, "audit/actions.html", context, status_code=422)
    where = _visible_events(user)
    with svc.sessions() as session:
        events = actions_of(session, actor.strip(), since=start, until=end, where=where, limit=ACTIONS_LIMIT)
        context["total"] = count_actions(session, actor.strip(), since=start, until=end, where=where)
    context["rows"] = [(e, who(e), what(e)) for e in events]
    context["limit"] = ACTIONS_LIMIT
    context["csv_query"] = f"actor={quote(actor.strip())}&since={quote(since.strip())}&until={quote(until.strip())}"
    return render(request, "audit/actions.html", context)


@router.get("/actions.csv")
def audit_actions_csv(request: Request, user: Auditor, svc: Svc, actor: str = "", since: str = "", until: str = "") -> Response:
    """Who did what as a spreadsheet: every action of the period the user may see (no page limit), streamed."""
    _ = gettext_for(language_of(request))
    if not actor.strip():
        raise HTTPException(422, _(NO_ACTOR))
    try:
        start, end = _period(since, until)
    except BadQuery as exc:
        raise HTTPException(422, exc.said(_)) from exc
    where = _visible_events(user)
    header = [_(column) for column in CSV_COLUMNS]

    def rows() -> Iterator[str]:
        # Sent in pieces of a few hundred lines: each piece is a hop to a worker thread and back.
        piece = ["\ufeff", _csv_line(header)]  # a byte-order mark, so spreadsheet programs read the file as UTF-8
        with svc.sessions() as session:
            for event in iter_actions(session, actor.strip(), since=start, until=end, where=where):
                piece.append(_csv_line(_csv_row(event)))
                if len(piece) >= CSV_LINES_PER_PIECE:
                    yield "".join(piece)
                    piece = []
        yield "".join(piece)

    name = "_".join(part for part in ("actions", actor.strip(), since.strip(), until.strip()) if part) + ".csv"
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": _attachment(name)})


def _csv_row(event: Event) -> list[str]:
    actor = event.actor
    when = event.occurred_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    centre, command = actor.centre_id or "", event.command_id or ""
    return [when, event.deal_id, str(event.seq), actor.id, actor.role.value, centre, event.type, what(event), command]


def _csv_line(cells: list[str]) -> str:
    line = io.StringIO()
    csv.writer(line).writerow([_inert(cell) for cell in cells])
    return line.getvalue()


def _inert(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula: typed text (a note, a name) may start with = + - @."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell


def _visible_events(user: User) -> list[ColumnElement[bool]]:
    """Conditions on archived events that keep the deals `user` may see (the pages' one rule); empty: every deal."""
    conditions = scope_of(user.actor).conditions()
    if not conditions:
        return []
    return [EventRecord.deal_id.in_(select(DealRecord.deal_id).where(*conditions))]


def _period(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """[start, end) of Beijing days `since` to `until`, both included; either may be left empty."""
    start = _day(since, SINCE) if since.strip() else None
    end = _day(until, UNTIL) + timedelta(days=1) if until.strip() else None
    if start and end and start >= end:
        raise BadQuery(BACKWARDS, since=since, until=until)
    return start, end


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise BadQuery(BAD_MOMENT, text=text) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def _seq(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise BadQuery(BAD_SEQ, text=text)
    return int(text)


def _day(text: str, label: str) -> datetime:
    try:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=BEIJING)
    except ValueError as exc:
        raise BadQuery(BAD_DAY, label=label, text=text) from exc
