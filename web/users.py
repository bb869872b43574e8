"""Users, passwords (argon2), lock-out after repeated failures, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.actors import Actor, Role
from store.models import ApiTokenRecord, UserRecord

_HASHER = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
PEOPLE_ROLES = (Role.BROKER, Role.MANAGER, Role.HUB_ADMIN, Role.AUDITOR)
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A user could not be created or changed; the message (Chinese) says why."""


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    centre_id: str | None
    active: bool

    @property
    def actor(self) -> Actor:
        """The actor recorded in events when this user acts."""
        return Actor(id=self.username, role=self.role, centre_id=self.centre_id)


@dataclass(frozen=True)
class SignIn:
    user: User | None
    locked_until: datetime | None = None


def _user(record: UserRecord) -> User:
    return User(record.username, record.display_name, Role(record.role), record.centre_id, record.active)


def create_user(
    session: Session, username: str, password: str, role: Role, display_name: str, centre_id: str | None = None
) -> User:
    if role not in PEOPLE_ROLES:
        raise UserError(f"角色「{role}」不能登录；可选：{'、'.join(r.value for r in PEOPLE_ROLES)}")
    if role in (Role.BROKER, Role.MANAGER) and not centre_id:
        raise UserError(f"角色 {role.value} 必须指定所属中心（--centre）")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"密码太短：{len(password)} 个字符，至少需要 {MIN_PASSWORD_LENGTH} 个")
    if session.get(UserRecord, username) is not None:
        raise UserError(f"用户名 {username} 已存在")
    record = UserRecord(
        username=username,
        display_name=display_name,
        role=role.value,
        centre_id=centre_id,
        password_hash=_HASHER.hash(password),
        active=True,
        failed_logins=0,
        locked_until=None,
        created_at=datetime.now(UTC),
    )
    session.add(record)
    return _user(record)


def get_user(session: Session, username: str) -> User | None:
    """An active user by name; None for unknown or deactivated users (a signed-in session of theirs ends)."""
    record = session.get(UserRecord, username)
    return _user(record) if record is not None and record.active else None


def has_users(session: Session) -> bool:
    return session.scalar(select(UserRecord.username).limit(1)) is not None


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, lockout: timedelta, now: datetime | None = None
) -> SignIn:
    """Check a password, counting failures; after `max_failures` in a row the account is locked for `lockout`.

    While locked, even the right password is refused, so guessing gains nothing from the lock's end being near.
    """
    now = now or datetime.now(UTC)
    record = session.get(UserRecord, username, with_for_update=True)
    if record is None or not record.active:
        _verify(_DUMMY_HASH, password)
        return SignIn(None)
    if record.locked_until is not None and record.locked_until > now:
        return SignIn(None, record.locked_until)
    if not _verify(record.password_hash, password):
        record.failed_logins += 1
        if record.failed_logins >= max_failures:
            record.locked_until = now + lockout
            record.failed_logins = 0
            return SignIn(None, record.locked_until)
        return SignIn(None)
    record.failed_logins = 0
    record.locked_until = None
    if _HASHER.check_needs_rehash(record.password_hash):
        record.password_hash = _HASHER.hash(password)
    return SignIn(_user(record))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def issue_token(session: Session, username: str, label: str = "api") -> str:
    """A new bearer token for `username`; only its hash is stored, so this is the one time it is seen."""
    if session.get(UserRecord, username) is None:
        raise UserError(f"没有用户 {username}")
    token = f"ky_{secrets.token_urlsafe(32)}"
    session.add(ApiTokenRecord(token_sha256=_sha256(token), username=username, label=label, created_at=datetime.now(UTC)))
    return token


def user_for_token(session: Session, token: str) -> User | None:
    record = session.get(ApiTokenRecord, _sha256(token))
    return None if record is None else get_user(session, record.username)


def _sha256(token: str) -> str:
    # Tokens are long random strings, so a plain hash is enough (no password-style stretching needed).
    return hashlib.sha256(token.encode()).hexdigest()
