"""Registry files in the browser: importing (登记库导入: upload, a preview of what would change, then confirm) and
exporting (a registry as .xlsx or .json, for every signed-in user, as the registries are readable by all).

The preview runs the real import as a dry run (`registry.importer.import_file(dry_run=True)`), so it shows exactly
the rows that the confirmed import will insert, update, leave unchanged or reject, with one message per bad cell;
nothing is written until the person confirms, and a file with rejected rows can be fixed and uploaded again. The
upload is kept on the server between preview and confirm (under a random token bound to the person), so what is
confirmed is byte for byte what was previewed. A confirmed import is logged in `registry_imports` with the file's
SHA-256 and the person, so every registry change can be traced.

Who may import (checked here, on the server): the hub's administrators, any record; a centre's manager, demands
and the achievements of their own centre only (a row naming another centre, or updating another centre's
achievement, is rejected with the reason). Brokers and auditors may not import.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.datastructures import UploadFile

from domain.actors import Role
from domain.registry import Achievement
from registry import records
from registry.importer import ImportReport, Permit, import_file
from registry.records import RegistryRecord
from registry.tables import FORMATS, KIND_LABELS, Kind, write_records
from store.models import RegistryImportRecord
from web.auth import check_csrf, page_user, services
from web.deals import Forbidden, Services
from web.refusals import PageError, Refusal
from web.rendering import render
from web.users import User

router = APIRouter(include_in_schema=False)
SignedIn = Annotated[User, Depends(page_user)]
Svc = Annotated[Services, Depends(services)]

IMPORTERS = (Role.MANAGER, Role.HUB_ADMIN)
MAX_BYTES = 20 * 1024 * 1024  # a registry of ~50,000 rows as .xlsx; anything larger is not a registry file
KEEP_SECONDS = 3600  # an upload not confirmed within an hour is deleted
STASH = Path(tempfile.gettempdir()) / "kuayue-registry-imports"
RECENT = 20


@dataclass(frozen=True)
class Upload:
    """A file uploaded for preview: where it is kept, whose it is, and what the person called it."""

    token: str
    path: Path
    username: str
    file_name: str
    kind: Kind | None


def _may_import(user: User) -> None:
    if user.role not in IMPORTERS:
        raise Forbidden(
            f"您（{user.username}，{user.role.value}）无权导入登记库；只有中心管理员和省中心管理员可以导入",
            code="import_not_allowed",
        )


def permit_for(user: User) -> Permit:
    """What this person may write: the hub anything; a manager demands, and achievements of their own centre."""

    def permit(record: RegistryRecord, current: RegistryRecord | None) -> str | None:
        if user.role == Role.HUB_ADMIN or not isinstance(record, Achievement):
            return None
        centre = user.centre_id
        if record.institution.centre_id != centre:
            named = record.institution.centre_id or "（空）"
            return f"所属N中心为「{named}」；中心管理员只能导入本中心（{centre}）的科技成果"
        if isinstance(current, Achievement) and current.institution.centre_id != centre:
            return f"该登记号已属于中心「{current.institution.centre_id or '（空）'}」的成果，本中心（{centre}）不能改写"
        return None

    return permit


@router.get("/registry/import", response_class=HTMLResponse)
def import_form(request: Request, user: SignedIn, svc: Svc) -> Response:
    _may_import(user)
    return render(request, "registry_import.html", {"me": user, **_page(svc, user)})


@router.post("/registry/import", response_class=HTMLResponse)
async def preview(request: Request, user: SignedIn, svc: Svc) -> Response:
    """Keep the upload and show what importing it would do; nothing is written."""
    _may_import(user)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES + 64 * 1024:
        too_big = f"文件太大（{int(declared) // 1024 // 1024} MiB）；允许不超过 {MAX_BYTES // 1024 // 1024} MiB"
        return _refused(request, user, svc, Refusal("file_too_large", too_big, 413))
    await check_csrf(request)
    form = await request.form()
    upload, kind_text = form.get("file"), form.get("kind") or ""
    if not isinstance(kind_text, str):
        kind_text = "?"
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _refused(request, user, svc, Refusal("no_file", "请选择要导入的文件（.csv、.xlsx 或 .json）"))
    name = Path(upload.filename).name[:200]
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        message = f"文件「{name}」的类型「{suffix or '无扩展名'}」不支持；允许 {'、'.join(FORMATS)}"
        return _refused(request, user, svc, Refusal("file_type", message))
    try:
        kind = Kind(kind_text) if kind_text else None
    except ValueError:
        allowed = "achievements（科技成果）、demands（企业技术需求），或留空自动判断"
        return _refused(request, user, svc, Refusal("import_kind", f"类型「{kind_text[:20]}」不对；可选：{allowed}"))
    kept = await asyncio.to_thread(_keep, upload, user, name, kind)
    if isinstance(kept, str):
        return _refused(request, user, svc, Refusal("file_too_large", kept, 413))
    report = await _run(svc, kept, user, dry_run=True)
    if isinstance(report, str):
        _discard(kept)
        return _refused(request, user, svc, Refusal("unreadable_file", report))
    return render(request, "registry_import.html", {"me": user, "report": report, "upload": kept, **_page(svc, user)})


@router.post("/registry/import/{token}", response_class=HTMLResponse, dependencies=[Depends(check_csrf)])
async def confirm(request: Request, token: str, user: SignedIn, svc: Svc) -> Response:
    """Import the previewed file, exactly those bytes; the page shows what was written."""
    _may_import(user)
    kept = _find(token, user)
    if kept is None:
        return _refused(
            request, user, svc, Refusal("preview_gone", "找不到这次预览的文件（超过一小时未确认，或已导入）；请重新上传", 404)
        )
    report = await _run(svc, kept, user, dry_run=False)
    _discard(kept)
    if isinstance(report, str):
        return _refused(request, user, svc, Refusal("unreadable_file", report))
    return render(request, "registry_import.html", {"me": user, "report": report, "imported": True, **_page(svc, user)})


EXPORT_FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "json": "application/json"}


@router.get("/registry/export/{kind}")
async def export(user: SignedIn, svc: Svc, kind: str, format: str = "xlsx") -> Response:
    """The whole registry as a file (the CLI's `kuayue registry export`, same columns), built off the event loop."""
    try:
        which = Kind(kind)
    except ValueError:
        allowed = "achievements（科技成果）、demands（企业技术需求）"
        raise PageError(404, "registry_not_found", f"没有「{kind[:20]}」登记库；可选：{allowed}") from None
    if format not in EXPORT_FORMATS:
        raise PageError(422, "bad_export_format", f"导出格式「{format[:20]}」不支持；可选：xlsx、json")
    folder = Path(tempfile.mkdtemp(prefix="kuayue-export-"))
    path = folder / f"{which.value}.{format}"

    def write() -> None:
        with svc.sessions() as session:
            write_records(path, which, records.load(session, which))

    try:
        await asyncio.to_thread(write)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    stamp = time.strftime("%Y%m%d")
    return FileResponse(
        path,
        media_type=EXPORT_FORMATS[format],
        filename=f"{which.value}-{stamp}.{format}",
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


async def _run(svc: Services, kept: Upload, user: User, *, dry_run: bool) -> ImportReport | str:
    """The import (or its dry run) in a worker thread; a file that cannot be read gives its message instead."""
    try:
        return await asyncio.to_thread(
            import_file,
            svc.sessions,
            kept.path,
            kept.kind,
            dry_run=dry_run,
            permit=permit_for(user),
            imported_by=user.username,
            file_name=kept.file_name,
        )
    except (ValueError, KeyError) as e:  # unreadable file, unknown kind, missing header (registry.tables)
        return str(e.args[0]) if e.args else str(e)


def _keep(upload: UploadFile, user: User, name: str, kind: Kind | None) -> Upload | str:
    """Copy the upload under a new token (refusing more than MAX_BYTES), and drop expired uploads."""
    _purge_expired()
    token = secrets.token_urlsafe(16)
    folder = STASH / token
    folder.mkdir(parents=True, mode=0o700)
    path = folder / f"file{Path(name).suffix.lower()}"
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_BYTES:
                out.close()
                shutil.rmtree(folder, ignore_errors=True)
                return f"文件太大；允许不超过 {MAX_BYTES // 1024 // 1024} MiB"
            out.write(chunk)
    meta = {"username": user.username, "file_name": name, "kind": kind.value if kind else None}
    (folder / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return Upload(token, path, user.username, name, kind)


def _find(token: str, user: User) -> Upload | None:
    """The kept upload of this token, if it is this person's and not expired (another person's is not found)."""
    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
        return None
    folder = STASH / token
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("username") != user.username or time.time() - folder.stat().st_mtime > KEEP_SECONDS:
        return None
    path = next((p for p in folder.iterdir() if p.stem == "file"), None)
    if path is None:
        return None
    return Upload(token, path, user.username, meta["file_name"], Kind(meta["kind"]) if meta.get("kind") else None)


def _discard(kept: Upload) -> None:
    shutil.rmtree(kept.path.parent, ignore_errors=True)


def _purge_expired() -> None:
    if not STASH.exists():
        return
    for folder in STASH.iterdir():
        try:
            if time.time() - folder.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def _refused(request: Request, user: User, svc: Services, refusal: Refusal) -> Response:
    return render(request, "registry_import.html", {"me": user, "error": refusal, **_page(svc, user)}, refusal.status)


def _page(svc: Services, user: User) -> dict[str, object]:
    """The form's choices and the recent imports this person may see (the hub: all; a manager: their own)."""
    query = select(RegistryImportRecord).order_by(RegistryImportRecord.id.desc()).limit(RECENT)
    if user.role != Role.HUB_ADMIN:
        query = query.where(RegistryImportRecord.imported_by == user.username)
    with svc.sessions() as session:
        recent = [
            {
                "at": row.imported_at,
                "by": row.imported_by,
                "kind": KIND_LABELS[Kind(row.kind)],
                "file": row.file_name,
                "sha256": row.file_sha256,
                "counts": _counts(json.loads(row.report)),
            }
            for row in session.scalars(query)
        ]
    labels = {k.value: KIND_LABELS[k] for k in Kind}
    return {"kinds": list(labels.items()), "kind_labels": labels, "recent": recent, "max_mib": MAX_BYTES // 1024 // 1024}


def _counts(report: dict[str, list[object]]) -> dict[str, int]:
    return {key: len(report.get(key, [])) for key in ("inserted", "updated", "unchanged", "rejected_rows")}
