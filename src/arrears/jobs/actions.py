"""Proposed actions for one business date: the cycle's statuses of that date (computed, not
stored, when the cycle has not run) through ``services.strategy_run``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy.engine import Engine

from arrears.domain.compliance import Pack
from arrears.domain.products import ProductSettings
from arrears.domain.strategy import Arm
from arrears.jobs.cycle import status_from_store
from arrears.services.action_sending import MessageTexts, SendSummary, send_actions
from arrears.services.strategy_gate import Decide
from arrears.services.strategy_run import ActionsResult, propose_from_status, read_features

__all__ = ["ActionsResult", "propose_actions", "read_features", "run_actions"]


def propose_actions(
    engine: Engine,
    as_of: date,
    arms: Sequence[Arm],
    lender_tz: str,
    products: Mapping[str, ProductSettings] | None = None,
    gate: bool = True,
    decide: Decide | None = None,
    gap: int = 1,
) -> ActionsResult:
    """The day's proposals; gated by ``decide`` (default: the CN compliance gate) if ``gate``."""
    status = status_from_store(engine, as_of, products)
    with engine.connect() as conn:
        return propose_from_status(conn, status, as_of, arms, lender_tz, gate, decide, gap)


def run_actions(
    engine: Engine,
    as_of: date,
    arms: Sequence[Arm],
    lender_tz: str,
    now: datetime,
    pack: Pack,
    texts: MessageTexts,
    products: Mapping[str, ProductSettings] | None = None,
    gap: int = 1,
) -> tuple[ActionsResult, SendSummary]:
    """The day's proposals, decided, recorded and queued in one transaction (a crash leaves
    nothing half-queued; running the day again queues nothing twice)."""
    status = status_from_store(engine, as_of, products)
    with engine.begin() as conn:
        _, history, _ = read_features(conn, as_of, lender_tz)
        result = propose_from_status(conn, status, as_of, arms, lender_tz, gate=False, gap=gap)
        summary = send_actions(
            conn, result.proposals, status, history, as_of, now, lender_tz, pack, texts
        )
    return result, summary
