"""Notifications (通知): the reminders and escalations of the outbox addressed to the signed-in person, with
unread counts and mark-as-read; a page and the same under /api/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from store import notifications as outbox
from store.queries import StoredNotification
from web.auth import api_user, check_csrf, page_user, services
from web.deals import Services
from web.refusals import Refusal
from web.rendering import render
from web.scope import notification_recipient
from web.users import User

router = APIRouter()
api_router = APIRouter(prefix="/api", tags=["notifications"])
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]


class NotificationList(BaseModel):
    unread: int
    notifications: list[StoredNotification]


class MarkRead(BaseModel):
    ids: list[int] | None = Field(default=None, description="notification ids; omit to mark all as read")


class Marked(BaseModel):
    marked: int = Field(description="notifications newly marked as read")
    unread: int


def unread_count(svc: Services, user: User) -> int:
    """The header's count; 0 for people who receive no notifications."""
    to = notification_recipient(user.actor)
    if to is None:
        return 0
    with svc.sessions() as session:
        return outbox.unread_count(session, to.role.value, to.recipient_id, user.username)


def listing(svc: Services, user: User, unread_only: bool = False) -> NotificationList:
    to = notification_recipient(user.actor)
    if to is None:
        return NotificationList(unread=0, notifications=[])
    with svc.sessions() as session:
        items = outbox.inbox(session, to.role.value, to.recipient_id, user.username, unread_only=unread_only)
        unread = outbox.unread_count(session, to.role.value, to.recipient_id, user.username)
    return NotificationList(unread=unread, notifications=items)


def mark(svc: Services, user: User, ids: list[int] | None) -> Marked:
    to = notification_recipient(user.actor)
    if to is None:
        return Marked(marked=0, unread=0)
    with svc.sessions.begin() as session:
        marked = outbox.mark_read(session, to.role.value, to.recipient_id, user.username, datetime.now(UTC), ids)
        unread = outbox.unread_count(session, to.role.value, to.recipient_id, user.username)
    return Marked(marked=marked, unread=unread)


@router.get("/notifications", response_class=HTMLResponse)
def notifications_page(request: Request, user: SignedIn, svc: Svc, unread: bool = False) -> Response:
    data = listing(svc, user, unread_only=unread)
    receives = notification_recipient(user.actor) is not None
    return render(request, "notifications.html", {"me": user, "data": data, "unread_only": unread, "receives": receives})


@router.post("/notifications/read", dependencies=[Depends(check_csrf)])
async def mark_read_form(request: Request, user: SignedIn, svc: Svc) -> Response:
    """Mark one notification (field `id`) or all of them (no `id`) as read, then back to the list."""
    form = await request.form()
    raw = [v for v in form.getlist("id") if isinstance(v, str) and v.strip()]
    try:
        ids = [int(v) for v in raw] if raw else None
    except ValueError:
        return render(
            request,
            "error.html",
            {"me": user, "status": 422, "message": Refusal("bad_notification_id", f"通知编号「{'、'.join(raw)}」不是整数")},
            422,
        )
    mark(svc, user, ids)
    return RedirectResponse("/notifications", status_code=303)


@api_router.get("/notifications")
def notifications_api(user: Annotated[User, Depends(api_user)], svc: Svc, unread: bool = False) -> NotificationList:
    """The caller's reminders and escalations, newest first, with the unread count."""
    return listing(svc, user, unread_only=unread)


@api_router.post("/notifications/read")
def mark_read_api(body: MarkRead, user: Annotated[User, Depends(api_user)], svc: Svc) -> Marked:
    """Mark the caller's notifications as read; ids addressed to someone else are ignored."""
    return mark(svc, user, body.ids)
