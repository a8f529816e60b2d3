"""`/dev/outbox`: read what the development SMTP sink stored (registered in development only).

Message files are named by the sink (`<UTC timestamp>-<random>.eml`); any other name is a 404,
so a URL can never reach outside the outbox folder. The HTML part is served from its own route
with a CSP that allows nothing but inline styles, and shown in an iframe with `sandbox=""`.
"""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template

from engage.mail.sink import MESSAGE_NAME

bp = Blueprint("outbox", __name__, url_prefix="/dev")

LIST_LIMIT = 200
HTML_PART_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox"
)
SHOWN_HEADERS = (
    "Date",
    "From",
    "To",
    "Subject",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


def outbox_folder() -> Path:
    return Path(current_app.instance_path) / "outbox"


def _path(name: str) -> Path:
    if not MESSAGE_NAME.match(name):
        abort(404)
    path = outbox_folder() / name
    if not path.is_file():
        abort(404)
    return path


def _load(name: str) -> EmailMessage:
    return email.message_from_bytes(_path(name).read_bytes(), policy=policy.default)


def _part(msg: EmailMessage, subtype: str) -> str | None:
    part = msg.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else None


@bp.get("/outbox")
def index():
    folder = outbox_folder()
    names = (
        sorted((p.name for p in folder.glob("*.eml") if MESSAGE_NAME.match(p.name)), reverse=True)[
            :LIST_LIMIT
        ]
        if folder.is_dir()
        else []
    )
    parser = BytesHeaderParser(policy=policy.default)
    messages = []
    for name in names:
        with (folder / name).open("rb") as fp:
            headers = parser.parse(fp)
        messages.append(
            {
                "name": name,
                "date": headers.get("Date", ""),
                "from": headers.get("From", ""),
                "to": headers.get("To", ""),
                "subject": headers.get("Subject", "(no subject)"),
            }
        )
    return render_template("dev/outbox.html", messages=messages, folder=folder)


@bp.get("/outbox/<name>")
def message(name: str):
    msg = _load(name)
    headers = [(h, str(msg[h])) for h in SHOWN_HEADERS if msg[h] is not None]
    return render_template(
        "dev/message.html",
        name=name,
        headers=headers,
        text=_part(msg, "plain"),
        has_html=_part(msg, "html") is not None,
    )


@bp.get("/outbox/<name>/html")
def message_html(name: str):
    body = _part(_load(name), "html")
    if body is None:
        abort(404)
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = HTML_PART_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/outbox/<name>/raw")
def message_raw(name: str):
    response = Response(_path(name).read_bytes(), mimetype="text/plain")
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
