"""`/healthz`: is the database reachable, is the broker reachable."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from engage.extensions import db, limiter

bp = Blueprint("health", __name__)


def check_database() -> tuple[bool, str]:
    try:
        db.session.execute(text("SELECT 1"))
        return True, db.engine.dialect.name
    except Exception as exc:  # any failure to reach it is the answer we report
        db.session.rollback()
        return False, type(exc).__name__


def check_broker() -> tuple[bool, str]:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            return True, conn.transport_cls if isinstance(conn.transport_cls, str) else "ok"
    except Exception as exc:  # any failure to reach it is the answer we report
        return False, type(exc).__name__


@bp.get("/healthz")
@limiter.exempt
def healthz():
    db_ok, db_detail = check_database()
    broker_ok, broker_detail = check_broker()
    body = {
        "status": "ok" if db_ok and broker_ok else "unavailable",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
    }
    return jsonify(body), 200 if db_ok and broker_ok else 503
