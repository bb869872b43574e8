"""What the roadshow pages show (路演): the list row, the roadshow's deals, investors, interest with what each deal
made of it (the deal's application and commitment), due-diligence requests and the timeline.

Read from the roadshow's archive and read model (written before every command is answered), and for commitments
from each deal's own archive; never a workflow query. Who sees which deal is `web.scope`: the organisers, the hub
and auditors see every deal; anyone else only the deals they may see, and nothing of the others' money.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from domain.actors import Actor, Role
from domain.events import (
    CommitmentExpired,
    CommitmentRecorded,
    CommitmentWithdrawn,
    Event,
    FinancingDeclined,
    PartnerRequestDelivered,
    PartnerRequestRefused,
)
from domain.partners import FINANCING_KINDS, PartnerEndpoint, PartnerKind, RequestStatus
from domain.roadshow import MODE_ZH as MODE_BY_ENUM
from domain.roadshow import InvitedInvestor, RoadshowEvent, RoadshowState, allowed_roadshow_commands, fold_roadshow
from domain.stages import Stage
from store.inbox import DealFilter, find_deals
from store.models import DealRecord
from store.roadshows import (
    InterestRow,
    RoadshowRow,
    application_outcomes,
    interests,
    list_roadshows,
    roadshow_events,
    roadshow_row,
    verify_roadshow_chain,
)
from web.deals import Services
from web.i18n import DEFAULT
from web.partner_view import INSTRUMENT_ZH, KIND_ZH, REQUEST_STATUS_ZH
from web.scope import Scope, acting_scope, roadshow_scope, scope_of, sees_whole_roadshow
from web.timeline import roadshow_line

STATUS_ZH = {"open": "进行中", "closed": "已结束"}
MODE_ZH = {m.value: name for m, name in MODE_BY_ENUM.items()}
INTEREST_STATUS_ZH = {"pending": "待转交案件", "forwarded": "已转为融资申请", "refused": "案件未受理"}
COMMITTED, DECLINED, WITHDRAWN, EXPIRED = "已承诺", "已拒绝", "已撤回", "已过期"
COMMITMENT_ZH = (COMMITTED, DECLINED, WITHDRAWN, EXPIRED)


class RoadshowNotVisible(Exception):
    """The roadshow is not archived or the person may not see it (answered alike, so ids cannot be probed)."""


@dataclass(frozen=True)
class DealLine:
    deal_id: str
    title: str
    enterprise_name: str
    stage: Stage | None  # None: the deal is not in the read model (presented by id from the command line)
    financing_need_fen: int
    committed_fen: int
    openable: bool  # the person may open the deal's page


@dataclass(frozen=True)
class InterestLine:
    interest: InterestRow
    investor_name: str
    instrument: str
    status: str
    commitment: str | None  # what the deal's partner made of the application, once forwarded
    committed_fen: int | None


@dataclass(frozen=True)
class RoadshowPage:
    row: RoadshowRow
    state: RoadshowState
    whole: bool  # sees every deal
    deals: list[DealLine]
    hidden_deals: int
    investors: list[tuple[InvitedInvestor, str]]
    interests: list[InterestLine]
    due_diligence: list[tuple[str, str, tuple[str, ...]]]  # investor name, deal, materials
    timeline: list[tuple[RoadshowEvent, str, str]]
    allowed: list[str]
    chain_problems: list[str] | None  # for auditors: the roadshow's hash chain, checked on every view


def visible_roadshows(svc: Services, actor: Actor, status: str | None = None, deal_id: str | None = None) -> list[RoadshowRow]:
    with svc.sessions() as session:
        return list_roadshows(session, roadshow_scope(actor).conditions(), status=status, deal_id=deal_id)


def visible_row(svc: Services, actor: Actor, roadshow_id: str) -> RoadshowRow:
    with svc.sessions() as session:
        row = roadshow_row(session, roadshow_id, roadshow_scope(actor).conditions())
    if row is None:
        raise RoadshowNotVisible(roadshow_id)
    return row


def archived_roadshow(svc: Services, roadshow_id: str) -> tuple[RoadshowState, list[RoadshowEvent]]:
    """The roadshow folded from its archive: every command is answered after its events are archived, so this is the
    workflow's state without asking the workflow."""
    with svc.sessions() as session:
        events = roadshow_events(session, roadshow_id)
    return fold_roadshow(events), events


def page(svc: Services, actor: Actor, roadshow_id: str, lang: str = DEFAULT) -> RoadshowPage:
    """The roadshow as `actor` may see it, its timeline in `lang`."""
    row = visible_row(svc, actor, roadshow_id)
    state, events = archived_roadshow(svc, roadshow_id)
    whole = sees_whole_roadshow(actor, row.centre_id)
    with svc.sessions() as session:
        records = {r.deal_id: r for r in session.scalars(select(DealRecord).where(DealRecord.deal_id.in_(state.deal_ids)))}
        openable = set(
            session.scalars(
                select(DealRecord.deal_id).where(DealRecord.deal_id.in_(state.deal_ids), *scope_of(actor).conditions())
            )
        )
        rows = interests(session, roadshow_id)
        # Checked for auditors, whose work it is (about 17 ms for 300 events); other pages stay quick.
        chain = verify_roadshow_chain(session, roadshow_id) if actor.role == Role.AUDITOR else None
    shown = [d for d in state.deal_ids if whole or d in openable]
    deal_lines = []
    for deal_id in shown:
        r = records.get(deal_id)
        deal_lines.append(
            DealLine(
                deal_id=deal_id,
                title=r.title if r else "",
                enterprise_name=r.enterprise_name if r else "",
                stage=Stage(r.stage) if r else None,
                financing_need_fen=r.financing_need_fen if r else 0,
                committed_fen=r.committed_fen if r else 0,
                openable=deal_id in openable,
            )
        )
    names = {i.partner_id: i.name for i in state.investors}
    visible_rows = [i for i in rows if i.deal_id in shown]
    with svc.sessions() as session:
        outcomes = _outcomes(application_outcomes(session, sorted({i.deal_id for i in visible_rows if i.status == "forwarded"})))
    interest_lines = [_interest_line(i, names, outcomes) for i in visible_rows]
    return RoadshowPage(
        row=row,
        state=state,
        whole=whole,
        deals=deal_lines,
        hidden_deals=len(state.deal_ids) - len(shown),
        investors=[(i, KIND_ZH.get(i.kind, i.kind.value)) for i in state.investors],
        interests=interest_lines,
        due_diligence=[
            (names.get(d.investor_id, d.investor_id), d.deal_id, d.materials) for d in state.due_diligence if d.deal_id in shown
        ],
        timeline=[(e, *roadshow_line(e, lang)) for e in reversed(events) if e.about_deal() in (None, *shown)],
        allowed=allowed_roadshow_commands(state, actor),
        chain_problems=chain,
    )


def _interest_line(
    row: InterestRow, names: dict[str, str], outcomes: dict[tuple[str, str], tuple[str, int | None]]
) -> InterestLine:
    commitment, amount = outcomes.get((row.deal_id, row.application_id), (None, None))
    if row.status == "forwarded" and commitment is None:
        commitment = REQUEST_STATUS_ZH[RequestStatus.APPLIED]  # in the deal, not delivered to the partner yet
    return InterestLine(
        interest=row,
        investor_name=names.get(row.investor_id, row.investor_id),
        instrument=INSTRUMENT_ZH.get(row.instrument, row.instrument),
        status=INTEREST_STATUS_ZH.get(row.status, row.status),
        commitment=commitment,
        committed_fen=amount,
    )


def _outcomes(events: list[Event]) -> dict[tuple[str, str], tuple[str, int | None]]:
    """What became of each (deal, application) in its deal, by the deal's events in order: the last one says."""
    out: dict[tuple[str, str], tuple[str, int | None]] = {}
    for e in events:
        p = e.payload
        match p:
            case PartnerRequestDelivered():
                out[(e.deal_id, p.request_id)] = (REQUEST_STATUS_ZH[RequestStatus.DELIVERED], None)
            case PartnerRequestRefused():
                out[(e.deal_id, p.request_id)] = (REQUEST_STATUS_ZH[RequestStatus.REFUSED], None)
            case CommitmentRecorded():
                out[(e.deal_id, p.request_id)] = (COMMITTED, p.amount_fen)
            case FinancingDeclined():
                out[(e.deal_id, p.request_id)] = (DECLINED, None)
            case CommitmentWithdrawn():
                out[(e.deal_id, p.request_id)] = (WITHDRAWN, None)
            case CommitmentExpired():
                out[(e.deal_id, p.request_id)] = (EXPIRED, None)
    return out


def presentable_deals(svc: Services, actor: Actor, exclude: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The deals `actor` may present at a roadshow: in 路演融资 (FINANCING) and theirs to act on (id, title)."""
    scope: Scope = acting_scope(actor)
    if scope.nothing:
        return []
    with svc.sessions() as session:
        found = find_deals(session, scope.conditions(), DealFilter(stage=Stage.FINANCING, sort="deal"))
    return [(d.deal_id, d.title) for d in found if d.deal_id not in exclude]


def directory_investors(partners: dict[str, PartnerEndpoint] | None, exclude: tuple[str, ...] = ()) -> list[PartnerEndpoint]:
    """The banks, guarantee firms and funds of the partner directory (who can be invited: their answers come back)."""
    kinds: tuple[PartnerKind, ...] = FINANCING_KINDS
    return [p for p in (partners or {}).values() if p.kind in kinds and p.partner_id not in exclude]
