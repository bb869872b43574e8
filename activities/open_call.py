"""Activities of OpenCallWorkflow: archive its events (OpenCallArchive), and make a selected bid the deal's accepted
match (OpenCallAward).

The award sends the deal the commands a broker would (ProposeCandidates, ShortlistCandidate, AcceptMatch for both
sides) as the user who selected, each with a command id derived from the call, so a retried award repeats
nothing: the deal answers a known command id from memory.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

import starter
from domain.commands import AcceptMatch, Command, ProposeCandidates, ShortlistCandidate
from domain.decider import allowed_commands
from domain.events import Candidate, Side
from domain.open_call import AwardRequest, AwardResult, OpenCallAppend, OpenCallEvent, OpenCallState
from domain.stages import Stage, zh
from store.chain import GENESIS_HASH, chain_hash
from store.db import upsert_insert
from store.models import OpenCallEventRecord, OpenCallRecord

OPEN_CALL_ARCHIVE_CONFLICT = "OpenCallArchiveConflict"
OPEN_CALL_ARCHIVE_GAP = "OpenCallArchiveGap"
DEAL_REFUSED = "deal_refused"
DEAL_NOT_MATCHING = "deal_not_matching"


class OpenCallArchive:
    """Writes open calls' events and list rows; register the bound method `append` on a worker."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @activity.defn(name="open_call.append")
    async def append(self, request: OpenCallAppend) -> int:
        """Archive the call's new events and update its list row in one transaction; the number of events inserted."""
        return await asyncio.to_thread(self._append_blocking, request)

    def _append_blocking(self, request: OpenCallAppend) -> int:
        try:
            return self._append_once(request)
        except IntegrityError:
            # A concurrent retry committed these seqs first; the second pass compares against them.
            return self._append_once(request)

    def _append_once(self, request: OpenCallAppend) -> int:
        now = datetime.now(UTC)
        state = request.state
        with self._session_factory.begin() as session:
            seqs = [e.seq for e in request.events]
            # From the seq before the first: its hash is where this append's links start.
            stored = {
                row.seq: (row.payload, row.hash)
                for row in session.execute(
                    _STORED, {"open_call_id": state.open_call_id, "first": seqs[0] - 1, "last": seqs[-1]}
                )
            }
            if seqs[0] > 1 and seqs[0] - 1 not in stored:
                raise ApplicationError(
                    f"open call {state.open_call_id}: seq {seqs[0]} arrived before seq {seqs[0] - 1} was archived",
                    type=OPEN_CALL_ARCHIVE_GAP,
                    non_retryable=True,
                )
            prev = stored[seqs[0] - 1][1] if seqs[0] > 1 else GENESIS_HASH
            rows = []
            for event in request.events:
                canonical = event.canonical_json()
                if event.seq in stored:
                    if stored[event.seq][0] != canonical:
                        raise ApplicationError(
                            f"open call {state.open_call_id} seq {event.seq}: the archive holds different content; "
                            "archived events are never overwritten",
                            type=OPEN_CALL_ARCHIVE_CONFLICT,
                            non_retryable=True,
                        )
                    prev = stored[event.seq][1]
                    continue
                link = chain_hash(prev, canonical)
                rows.append({**_columns(event, state, canonical, now), "prev_hash": prev, "hash": link})
                prev = link
            if rows:
                session.execute(insert(OpenCallEventRecord), rows)
            _upsert_row(session, state, now)
        return len(rows)


class OpenCallAward:
    """Sends a selected bid to its deal; register the bound method `award` on a worker."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @activity.defn(name="open_call.award")
    async def award(self, request: AwardRequest) -> AwardResult:
        """Make the winning bid the deal's accepted match, or refuse (non-retryable) with the deal's own message."""
        deal_id, achievement_id = request.deal_id, request.bid.achievement.achievement_id
        try:
            state = await starter.deal_state(self._client, deal_id)
        except Exception as e:
            raise ApplicationError(f"无法读取案件 {deal_id} 的状态：{e}") from e
        already = state.match is not None and state.match.achievement_id == achievement_id
        if state.stage != Stage.MATCHING and not already:
            stage = zh(state.stage) if state.stage else "未创建"
            raise ApplicationError(
                f"案件 {deal_id} 当前处于 {stage}；揭榜方只能在 {zh(Stage.MATCHING)} 阶段成为案件的对接成果，"
                "揭榜结果未选定，请在案件回到技术匹配阶段后再选定",
                type=DEAL_NOT_MATCHING,
                non_retryable=True,
            )
        if not already and "ProposeCandidates" not in allowed_commands(state, request.actor):
            raise ApplicationError(
                f"案件 {deal_id} 不接受 {request.actor.id} 的操作（经纪人 {state.broker.broker_id if state.broker else '?'}）；"
                "揭榜结果未选定",
                type=DEAL_REFUSED,
                non_retryable=True,
            )
        answer = None
        for command in _commands(request, state.candidates, state.shortlisted):
            try:
                answer = await starter.send_command(self._client, deal_id, command)
            except starter.CommandRejected as e:
                raise ApplicationError(
                    f"案件 {deal_id} 拒绝了揭榜结果：{e.message}", e.code, type=DEAL_REFUSED, non_retryable=True
                ) from e
        assert answer is not None
        activity.logger.info("open call %s: bid %s is deal %s's match", request.open_call_id, request.bid_id, deal_id)
        return AwardResult(deal_seq=answer.seq, deal_stage=answer.stage)


def _commands(request: AwardRequest, candidates: tuple[Candidate, ...], shortlisted: tuple[str, ...]) -> list[Command]:
    """The broker's commands that make the bid the accepted match; the deal's other candidates stay on its list."""
    bid, actor, prefix = request.bid, request.actor, f"open-call:{request.open_call_id}"
    achievement_id = bid.achievement.achievement_id
    reasons = (f"揭榜挂帅 {request.open_call_id} 选定的揭榜方案 {request.bid_id}", f"技术就绪度 {bid.trl}", bid.proposal[:200])
    winner = Candidate(achievement=bid.achievement, score=1.0, reasons=reasons)
    others = tuple(c for c in candidates if c.achievement.achievement_id != achievement_id)
    commands: list[Command] = [
        ProposeCandidates(
            command_id=f"{prefix}:propose", actor=actor, candidates=(winner, *others), source=f"open call {request.open_call_id}"
        )
    ]
    if achievement_id not in shortlisted:
        commands.append(ShortlistCandidate(command_id=f"{prefix}:shortlist", actor=actor, achievement_id=achievement_id))
    commands += [
        # The enterprise's side selected; the owner consented by bidding.
        AcceptMatch(command_id=f"{prefix}:accept-enterprise", actor=actor, achievement_id=achievement_id, side=Side.ENTERPRISE),
        AcceptMatch(command_id=f"{prefix}:accept-owner", actor=actor, achievement_id=achievement_id, side=Side.OWNER),
    ]
    return commands


def _columns(event: OpenCallEvent, state: OpenCallState, canonical: str, now: datetime) -> dict[str, object]:
    return {
        "open_call_id": event.open_call_id,
        "seq": event.seq,
        "deal_id": state.deal_id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "actor_id": event.actor.id,
        "actor_role": event.actor.role.value,
        "payload": canonical,
        "recorded_at": now,
    }


def _upsert_row(session: Session, state: OpenCallState, now: datetime) -> None:
    """The call's list row, unless the stored one is newer (a late retry never moves it backwards)."""
    assert state.deadline is not None
    values = {
        "open_call_id": state.open_call_id,
        "deal_id": state.deal_id,
        "centre_id": state.centre_id,
        "broker_id": state.broker_id,
        "title": state.demand_title,
        "status": state.status.value,
        "deadline": state.deadline,
        "bids": len(state.bids),
        "winner_bid_id": state.winner_bid_id,
        "last_seq": state.seq,
        "updated_at": now,
    }
    statement = upsert_insert(session, OpenCallRecord).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=[OpenCallRecord.open_call_id],
        set_={k: statement.excluded[k] for k in values if k != "open_call_id"},
        where=OpenCallRecord.last_seq <= statement.excluded.last_seq,
    )
    session.execute(statement)


_STORED = select(OpenCallEventRecord.seq, OpenCallEventRecord.payload, OpenCallEventRecord.hash).where(
    OpenCallEventRecord.open_call_id == bindparam("open_call_id"),
    OpenCallEventRecord.seq >= bindparam("first"),
    OpenCallEventRecord.seq <= bindparam("last"),
)
