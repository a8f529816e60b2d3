"""The embeddable sign-up form: a plain HTML snippet other sites paste into their article pages,
posting cross-site to `/embed/subscribe`, and the admin page that shows the snippet.

The endpoint follows exactly the rules of /subscribe (service.sign_up, the same emails, the same
answer for every address); what differs is how it is reached:

- no CSRF token: the form lives on another site, so it cannot carry one. Instead, a request that
  says where it comes from (the `Origin` header every browser sends on a cross-site POST) must
  come from our own site or from a site listed in EMBED_ORIGINS, or it is refused with 403.
  A request without `Origin` (a server-side integration, curl) is not a browser acting for a
  reader on someone else's page, and is processed; the rate limit still applies.
- CORS answers name the one listed origin that asked (never `*`, never credentials), so only the
  configured sites can read the JSON answer of a `fetch()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import TooManyRequests

from engage.accounts.access import role_required
from engage.core.edge import NUL, has_nul
from engage.core.errors import MESSAGES, json_error
from engage.extensions import csrf, db, limiter
from engage.subscriptions import service
from engage.subscriptions.emails import queue_signup_email
from engage.urls import external_url

bp = Blueprint("subscriptions_embed", __name__)

# What the snippet shows next to its button, recorded as the consent text of embedded sign-ups.
EMBED_CONSENT_TEXT = "We respect your privacy. Unsubscribe at any time."
REFUSED_MESSAGE = "This site may not embed the sign-up form."
REFUSED_READER_MESSAGE = (
    "The page you came from is not set up to sign people up for our emails, so nothing was "
    "saved. You can subscribe here instead."
)
CHECK_EMAIL_MESSAGE = "Check your email to confirm your subscription."
DEFAULT_PORTS = {"http": 80, "https": 443}
PREFLIGHT_MAX_AGE = 600


def _signup_limit() -> str:
    return current_app.config["ENGAGE"].signup_rate_limit


def normalise_origin(value: str | None) -> str | None:
    """`scheme://host[:port]` as browsers serialise an Origin (lower case, no default port).

    None for anything that is not an http(s) origin, including the opaque origin `null`.
    """
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def allowed_origins() -> set[str]:
    """The sites whose pages may embed the form (EMBED_ORIGINS), normalised."""
    configured = current_app.config["ENGAGE"].embed_origins
    return {o for o in (normalise_origin(v) for v in configured) if o}


def _own_origins() -> set[str]:
    # Our public address, and the address this request reached (a same-origin post, e.g. the
    # admin page's preview, or a deployment reached through another name).
    own = {
        normalise_origin(current_app.config["ENGAGE"].base_url),
        normalise_origin(request.host_url),
    }
    return {o for o in own if o}


def origin_verdict() -> str:
    """How the request's Origin stands: "none", "own", "listed" or "refused".

    Exact match: the header must be a serialised origin as browsers send it (no path, no
    default port, lower case); only the configured list is normalised to that form.
    """
    raw = request.headers.get("Origin")
    if raw is None:
        return "none"
    origin = normalise_origin(raw)
    if origin is None or origin != raw:
        return "refused"
    if origin in allowed_origins():
        return "listed"
    if origin in _own_origins():
        return "own"
    return "refused"


def wants_json() -> bool:
    """A fetch() wants JSON back; a plain form post (a navigation) wants a page."""
    if request.is_json:
        return True
    accept = request.accept_mimetypes
    if accept["application/json"] > accept["text/html"]:
        return True
    # fetch(url, {method: "POST", body: new FormData(form)}) sends `Accept: */*`; browsers mark
    # it as a CORS request, whereas a form submission is a navigation.
    return request.headers.get("Sec-Fetch-Mode") == "cors"


@dataclass
class Submission:
    email: str
    topics: list[str]
    digest: str
    website: str
    declared_source: str


class BadSubmission(ValueError):
    def __init__(self, message: str, fields: dict[str, list[str]] | None = None, status=422):
        super().__init__(message)
        self.fields = fields or {}
        self.status = status


def _text(value: object, field: str, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadSubmission("Please check the form.", {field: ["This must be text."]})
    return value[:limit]


def read_submission() -> Submission:
    """The fields of a JSON object or a urlencoded/multipart form, with the form's length caps."""
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadSubmission("Send a JSON object with at least an `email` field.", status=400)
        # The edge (engage.core.edge) checks forms; a JSON body is ours to check.
        nul = {
            "body" if NUL in key else key: ["This must not contain a NUL character."]
            for key, value in data.items()
            if has_nul(key) or has_nul(value)
        }
        if nul:
            raise BadSubmission("Please check the form.", nul)
        topics = data.get("topics")
        if topics is None:
            topics = []
        elif isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise BadSubmission(
                "Please check the form.", {"topics": ["Topics must be a list of topic slugs."]}
            )
        website = data.get("website")
        return Submission(
            email=_text(data.get("email"), "email", 320),
            topics=[t[:64] for t in topics][:20],
            digest=_text(data.get("digest"), "digest", 16) or "off",
            website="" if website in (None, "", False) else str(website)[:200],
            declared_source=_text(data.get("source"), "source", 300),
        )
    form = request.form
    return Submission(
        email=(form.get("email") or "")[:320],
        topics=[t[:64] for t in form.getlist("topics")][:20],
        digest=(form.get("digest") or "off")[:16],
        website=(form.get("website") or "")[:200],
        declared_source=(form.get("source") or "")[:300],
    )


def _parts(url: str):
    """`urlsplit(url)`, or None for what it cannot read (`http://[::1` raises ValueError)."""
    try:
        return urlsplit(url.strip())
    except ValueError:
        return None


def _host_and_path(url: str) -> str:
    # Host and path only: a query string may carry someone's address or a token.
    parts = _parts(url)
    if parts is None or parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return ""
    return f"{parts.netloc.rpartition('@')[2].lower()}{parts.path or '/'}"


def embed_source(declared: str) -> str:
    """`embed:<host/path>` of the page the form was on, as well as we can tell.

    The referrer, when the browser sends one with a path (cross-site, browsers usually trim it to
    the origin); else a `source` URL the embedding page declared, if it is on the requesting
    origin; else the referrer's or the origin's host.
    """
    origin = normalise_origin(request.headers.get("Origin"))
    referrer = _host_and_path(request.referrer or "")
    declared_url = _host_and_path(declared)
    if declared_url and origin and normalise_origin(declared) != origin:
        declared_url = ""
    if referrer and _parts(request.referrer).path not in ("", "/"):
        where = referrer
    elif declared_url:
        where = declared_url
    elif referrer:
        where = referrer
    elif origin:
        where = origin.split("://", 1)[1] + "/"
    else:
        where = "unknown"
    return f"embed:{where}"[:300]


def _ok():
    if wants_json():
        return jsonify({"ok": True, "message": CHECK_EMAIL_MESSAGE}), 200
    return redirect(url_for("subscriptions.check_email"), code=303)


def _refuse(exc: BadSubmission, sub: Submission | None):
    if wants_json():
        return json_error(exc.status, str(exc), fields=exc.fields)
    # A reader without JavaScript lands on our own sign-up page, with what they typed and why
    # it did not work; that page's form carries a CSRF token like any other.
    state = {
        "email": sub.email if sub else "",
        "topics": sub.topics if sub else [],
        "digest": sub.digest if sub else "off",
        "source": "/subscribe",
        "errors": exc.fields or {"email": [str(exc)]},
    }
    return render_template("subscriptions/subscribe.html", state=state), 400


def _preflight():
    if origin_verdict() == "refused":
        return json_error(403, REFUSED_MESSAGE)
    response = Response(status=204, headers={"Allow": "OPTIONS, POST"})
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


@bp.route("/embed/subscribe", methods=["POST", "OPTIONS"])
@csrf.exempt
@limiter.limit(_signup_limit, methods=["POST"])
def subscribe():
    """Sign up from a form embedded on another site; see the module docstring for the rules."""
    if request.method == "OPTIONS":
        return _preflight()
    if origin_verdict() == "refused":
        # The point of listing origins: nothing from another site's page is recorded.
        if wants_json():
            return json_error(403, REFUSED_MESSAGE)
        # A reader pressed Subscribe on a page we do not know: tell them, and offer our own
        # form (not pre-filled: that page chose the address).
        state = {"source": "/subscribe", "errors": {"email": [REFUSED_READER_MESSAGE]}}
        return render_template("subscriptions/subscribe.html", state=state), 403
    sub = None
    try:
        sub = read_submission()
        if sub.website:
            # A bot filled the honeypot: answer exactly as for a person, record nothing.
            return _ok()
        outcome = service.sign_up(
            db.session,
            sub.email,
            topics=sub.topics,
            digest=sub.digest,
            source=embed_source(sub.declared_source),
            consent_text=EMBED_CONSENT_TEXT,
        )
    except BadSubmission as exc:
        return _refuse(exc, sub)
    except service.InvalidAddress as exc:
        db.session.rollback()
        return _refuse(BadSubmission(str(exc), {"email": [str(exc)]}), sub)
    except service.InvalidChoice as exc:
        db.session.rollback()
        return _refuse(BadSubmission(str(exc), {exc.field: [str(exc)]}), sub)
    queue_signup_email(outcome)
    db.session.commit()
    return _ok()


@bp.errorhandler(TooManyRequests)
def _too_many(err: TooManyRequests):
    if wants_json():
        return json_error(429, MESSAGES[429])
    return render_template("error.html", status=429, message=MESSAGES[429], title=None), 429


@bp.after_request
def _cors(response: Response) -> Response:
    if request.endpoint != "subscriptions_embed.subscribe":
        return response
    # The answer depends on Origin: caches must not hand one site's answer to another.
    response.vary.add("Origin")
    if origin_verdict() == "listed":
        response.headers["Access-Control-Allow-Origin"] = normalise_origin(
            request.headers["Origin"]
        )
    return response


def snippet() -> str:
    """The HTML other sites paste into their pages: a plain form, no script, no styles."""
    return render_template(
        "subscriptions/embed_snippet.html",
        action=external_url("subscriptions_embed.subscribe"),
        privacy_url=external_url("pages.privacy"),
        consent_text=EMBED_CONSENT_TEXT,
    ).strip()


@bp.get("/admin/subscriptions/embed")
@role_required("editor")
def admin():
    return render_template(
        "subscriptions/admin_embed.html",
        snippet=snippet(),
        origins=sorted(allowed_origins()),
        base_origin=normalise_origin(current_app.config["ENGAGE"].base_url),
    )
