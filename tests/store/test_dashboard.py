"""The dashboard's figures over a known set of deals, on both backends (the percentile SQL differs nowhere)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from domain.stages import Stage
from store import dashboard as figures
from tests.web.known_deals import NOW, seed


def test_figures_of_a_centre_and_the_province(session_factory: sessionmaker[Session]) -> None:
    seed(session_factory)
    with session_factory() as s:
        ja = figures.funnel(s, "ja-centre")
        assert (ja[Stage.DEMAND_MINING], ja[Stage.MATCHING], ja[Stage.BROKERING], ja[Stage.SIGNED]) == (1, 1, 1, 2)
        assert figures.funnel(s)[Stage.MATCHING] == 2

        timings = figures.stage_timings(s, "ja-centre")
        assert timings[Stage.DEMAND_MINING] == figures.StageTiming(5, 3.0, 10.0)
        assert timings[Stage.MATCHING] == figures.StageTiming(2, 5.0, 7.0)
        assert timings[Stage.SIGNING] == figures.StageTiming(0, None, None)
        assert figures.stage_timings(s)[Stage.DEMAND_MINING] == figures.StageTiming(6, 3.0, 20.0)
        province, by_centre = figures.province_stage_timings(s)
        assert province[Stage.DEMAND_MINING] == figures.StageTiming(6, 3.0, 20.0)
        assert province[Stage.MATCHING] == figures.StageTiming(2, 5.0, 7.0)
        assert by_centre["jj-centre"][Stage.DEMAND_MINING] == figures.StageTiming(1, 20.0, 20.0)
        assert by_centre["ja-centre"][Stage.DEMAND_MINING] == figures.StageTiming(5, 3.0, 10.0)
        assert set(by_centre) == {"ja-centre", "jj-centre"}

        attention = figures.attention(s, NOW, "ja-centre")
        assert (attention.overdue, attention.escalated) == (2, 1)
        assert [d.deal_id for d in attention.deals] == ["K2", "K1"]  # escalated first

        loads = {b.broker_id: (b.open_deals, b.overdue, b.escalated) for b in figures.workload(s, NOW, "ja-centre")}
        assert loads == {"ja-broker-liu": (2, 2, 1), "ja-broker-wang": (1, 0, 0)}

        assert sorted(fen for _, fen in figures.signed_deals(s, "ja-centre")) == [150_5000_00, 300_0000_00]
        assert figures.signed_deals(s, "jj-centre") == []
        assert sorted(figures.demand_cells(s, "ja-centre")) == [("A0511", "360100", 1), ("C3425", "360802", 4)]
        assert figures.read_model_updated_at(s) is not None
