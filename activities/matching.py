"""The matching activity: rank the achievement registry for a deal's demand when the deal enters matching.

The result (candidates with scores and reasons, and the index version) is recorded by the workflow in a
`CandidatesProposed` event, so a replay years later shows what the broker saw even after the registry changed.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from domain.projection import MatchRequest, ProposedShortlist
from registry.matcher import Matcher, as_registered

SHORTLIST_SIZE = 10


class DealMatching:
    """Registered on a worker as the bound method `propose`; the matcher keeps its index until the registry changes."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._matcher = Matcher(session_factory)

    @activity.defn(name="matching.propose")
    async def propose(self, request: MatchRequest) -> ProposedShortlist:
        # Segmentation and ranking are CPU work in plain Python; a thread keeps the worker's event loop answering.
        shortlist = await asyncio.to_thread(
            self._matcher.for_demand_record, as_registered(request.deal_id, request.demand), limit=SHORTLIST_SIZE
        )
        activity.logger.info(
            "matched deal %s: %d candidates from %s", request.deal_id, len(shortlist.candidates), shortlist.index_version
        )
        return ProposedShortlist(index_version=shortlist.index_version, candidates=tuple(shortlist.candidates))
