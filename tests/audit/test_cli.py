"""`kuayue audit rederive --all-kept`, `verify` and `state` from the command line, on a database with kept histories."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import WorkflowHistory

from audit.histories import RunHistory, store_runs
from audit.replay import DealReplayer
from kuayue.cli import main
from store.db import make_engine, make_session_factory
from store.models import DealHistoryRecord, EventRecord
from store.testing import migrated_database
from tests.audit.conftest import archive_events

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
DEALS = ("ladder", "jiujiang-heterojunction")


def test_the_cli_rederives_every_kept_deal_and_names_a_changed_event(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with migrated_database("sqlite") as url:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        for name in DEALS:
            (path,) = HISTORIES.glob(f"v3-{name}-run1.json")
            history = WorkflowHistory(
                f"deal-v3-{name}", WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8")).events
            )
            store_runs(sessions, [RunHistory(f"v3-{name}", 1, history, "store")])
            (replay,) = asyncio.run(DealReplayer(sandboxed=False).replay([history]))
            asyncio.run(archive_events(sessions, replay.events))
        monkeypatch.setenv("KUAYUE_DATABASE_URL", url)

        assert main(["audit", "rederive", "--all-kept"]) == 0
        assert "2 deals with kept histories re-derived; 0 disagree" in capsys.readouterr().out
        assert main(["audit", "verify", "--all"]) == 0
        assert "完整 intact" in capsys.readouterr().out

        with sessions.begin() as session:
            row = session.scalars(select(EventRecord).where(EventRecord.deal_id == "v3-ladder", EventRecord.seq == 3)).one()
            row.occurred_at = row.occurred_at.replace(year=2025)  # a column the payload repeats
            row.payload = row.payload.replace('"seq":3', '"seq":3 ')  # and the payload's bytes
        assert main(["audit", "rederive", "--all-kept", "--no-sandbox"]) == 1
        out = capsys.readouterr().out
        assert "deal v3-ladder seq 3: 内容不同 / differs" in out and "1 disagree" in out
        assert main(["audit", "verify", "--deal", "v3-ladder"]) == 1
        out = capsys.readouterr().out
        assert "deal v3-ladder seq 3 [hash]" in out and "deal v3-ladder seq 3 [column]" in out
        assert main(["audit", "state", "v3-ladder", "--seq", "2"]) == 0
        assert '"stage": "DEMAND_MINING"' in capsys.readouterr().out

        # A changed byte in a kept history is named (deal and run) and the sweep still reports the other deal.
        with sessions.begin() as session:
            jiujiang = DealHistoryRecord.deal_id == "v3-jiujiang-heterojunction"
            kept = session.scalars(select(DealHistoryRecord).where(jiujiang)).one()
            blob = bytearray(kept.history_zlib)
            blob[len(blob) // 2] ^= 0x01
            kept.history_zlib = bytes(blob)
        assert main(["audit", "rederive", "--all-kept", "--no-sandbox"]) == 1
        out = capsys.readouterr().out
        assert f"deal v3-jiujiang-heterojunction run {kept.run_id}: 不可回放 DIVERGES: StoredHistoryCorrupt" in out
        assert "deal v3-jiujiang-heterojunction run 1" in out and "2 disagree" in out
        engine.dispose()
