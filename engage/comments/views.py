"""Reader-facing reply pages: posting, the author's edit and delete, reports, reply
notifications (confirm, unsubscribe) and the moderator's emailed approve/reject links.

Links in emails open a page whose button POSTs, so a link scanner's GET changes nothing; the
one exception is the RFC 8058 one-click POST to the unsubscribe link.
"""

from __future__ import annotations

from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from engage.articles import service as articles
from engage.articles.models import Article
from engage.comments import emails, service
from engage.comments.forms import ButtonForm, EditForm, ReplyForm, ReportForm
from engage.comments.models import REPORT_REASONS, Comment, Commenter, ModerationLink
from engage.core.security import keep_private, no_store
from engage.extensions import csrf, db, limiter
from engage.subscriptions.service import InvalidAddress, address_hash, normalise_email
from engage.tokens import (
    TokenError,
    carries_link_key,
    link_key_matches,
    make_link_token,
    read_token,
)
from engage.types import utcnow

bp = Blueprint("comments", __name__)

COOKIE_PREFIX = "reply_"
# The author sees their reply "awaiting moderation" for a day; editing needs the token to be
# under 15 minutes old (the comment-edit purpose) and the reply's text unchanged since.
OWN_REPLY_DAYS = 1
MAX_OWN_COOKIES = 20
PERSON_LIMIT = "1 per 15 seconds"
# Edits go back through the checks; a few quick typo fixes are fine, a loop is not.
EDIT_LIMIT = "5 per minute"


# --- The author's proof: a signed cookie per reply, tied to the reply and its text ---------


def _cookie_token(comment: Comment) -> str:
    return make_link_token(
        "comment-edit",
        {"c": comment.id, "h": service.text_hash(comment.body_markdown)},
        comment.link_key,
    )


def _set_cookie(response: Response, comment: Comment) -> None:
    settings = current_app.config["ENGAGE"]
    response.set_cookie(
        f"{COOKIE_PREFIX}{comment.id}",
        _cookie_token(comment),
        max_age=OWN_REPLY_DAYS * 86400,
        httponly=True,
        samesite="Lax",
        secure=settings.env == "production",
    )


def own_reply_ids() -> set[int]:
    """Ids of replies this browser posted (valid cookies), for "awaiting moderation"."""
    payloads: dict[int, dict] = {}
    for name, value in list(request.cookies.items())[:200]:
        if not name.startswith(COOKIE_PREFIX) or not name[len(COOKIE_PREFIX) :].isdigit():
            continue
        try:
            payload = read_token("comment-edit", value, max_age=timedelta(days=OWN_REPLY_DAYS))
        except TokenError:
            continue
        comment_id = payload.get("c") if isinstance(payload, dict) else None
        if comment_id == int(name[len(COOKIE_PREFIX) :]) and 0 < comment_id < 2**31:
            payloads[comment_id] = payload
        if len(payloads) >= MAX_OWN_COOKIES:
            break
    if not payloads:
        return set()
    # A cookie names a reply and carries its key: a deleted reply's cookie owns no other.
    keys = db.session.execute(
        select(Comment.id, Comment.link_key).where(Comment.id.in_(payloads))
    ).all()
    found = {
        comment_id
        for comment_id, link_key in keys
        if carries_link_key(payloads[comment_id], link_key)
    }
    if found:
        keep_private()  # the page shows this browser's own replies: no shared cache keeps it
    return found


def _proven(comment: Comment) -> bool:
    """Whether this browser may still edit or delete the reply (cookie, 15 minutes, text)."""
    value = request.cookies.get(f"{COOKIE_PREFIX}{comment.id}")
    if not value:
        return False
    try:
        payload = read_token("comment-edit", value)
    except TokenError:
        return False
    return (
        isinstance(payload, dict)
        and payload.get("c") == comment.id
        and link_key_matches(comment, payload)
        and payload.get("h") == service.text_hash(comment.body_markdown)
        and service.can_edit(comment)
    )


# --- The thread, as the article template asks for it ---------------------------------------


def comment_thread(article: Article) -> service.Thread:
    return service.thread(db.session, article.id, own_reply_ids())


# --- Posting --------------------------------------------------------------------------------


def _person_key() -> str:
    submitted = (request.form.get("email") or "").strip()[:320]
    try:
        submitted = normalise_email(submitted)
    except InvalidAddress:
        submitted = submitted.lower()
    return "reply-person:" + address_hash(submitted)


def _hourly_limit() -> str:
    return f"{current_app.config['ENGAGE'].comment_hourly_limit} per hour"


def _counted(response: Response) -> bool:
    return response.status_code == 303


def _article_or_404(slug: str) -> Article:
    article = articles.published_article(db.session, slug)
    if article is None:
        abort(404)
    return article


def article_page(article: Article, state: dict | None = None, status: int = 200):
    """The article page, with the reply form showing what was typed and what to fix."""
    body = Markup(articles.render_markdown(article.body_markdown))  # noqa: S704 (nh3-cleaned)
    return render_template(
        "articles/show.html", article=article, body=body, reply_state=state
    ), status


@bp.post("/articles/<slug>/replies")
@csrf.exempt  # the form checks its own token, so a stale one keeps what the reader typed
@limiter.limit(PERSON_LIMIT, key_func=_person_key, deduct_when=_counted)
@limiter.limit(_hourly_limit, deduct_when=_counted)
def post(slug: str):
    article = _article_or_404(slug)
    form = ReplyForm()
    parent_raw = (form.parent_id.data or "").strip()
    state = {
        "name": (form.name.data or "")[:200],
        "email": (form.email.data or "")[:320],
        "body": (form.body.data or "")[:20000],
        "notify": bool(form.notify.data),
        "parent_id": parent_raw if parent_raw.isdigit() else "",
        "errors": {},
    }
    # Every problem at once: an expired form and each field's own message, in one answer.
    form.validate_on_submit()
    errors = service.reply_problems(
        state["name"], state["email"], state["body"], article.comments_open
    )
    if "csrf_token" in form.errors:
        errors = {"form": "This form expired. Please press Post reply again.", **errors}
    if errors:
        state["errors"] = {name: [message] for name, message in errors.items()}
        return article_page(article, state, 400)
    if form.website.data:
        # A bot filled the honeypot: answer as for a person, record nothing.
        return redirect(url_for("articles.show", slug=slug) + "#replies", code=303)
    staff = current_user.is_authenticated and current_user.can("moderator")
    try:
        posted = service.post_reply(
            db.session,
            article,
            name=state["name"],
            email=state["email"],
            body=state["body"],
            parent_id=int(parent_raw) if parent_raw.isdigit() and len(parent_raw) < 10 else None,
            notify=state["notify"],
            staff=staff,
        )
    except service.ReplyError as exc:
        db.session.rollback()
        state["errors"] = {name: [message] for name, message in exc.errors.items()}
        return article_page(article, state, 400)
    comment = posted.comment
    db.session.commit()
    if posted.duplicate:
        flash("You already posted this reply.", "info")
    elif comment.status == "rejected":
        flash(
            "Your reply could not be published: it goes against our community guidelines.", "error"
        )
    elif comment.status == "pending":
        flash(
            "Thank you. Your reply is waiting for a moderator; only you can see it for now.",
            "info",
        )
    anchor = f"#c-{comment.id}" if comment.status != "rejected" else "#replies"
    response = redirect(url_for("articles.show", slug=slug) + anchor, code=303)
    if not posted.duplicate and comment.status != "rejected":
        _set_cookie(response, comment)
    return response


# --- The author's edit and delete -----------------------------------------------------------


def _own_reply(comment_id: int) -> tuple[Comment, Article]:
    comment = db.session.get(Comment, comment_id) if comment_id < 2**31 else None
    if comment is None:
        abort(404)
    article = db.session.get(Article, comment.article_id)
    if not _proven(comment):
        abort(
            Response(
                render_template(
                    "comments/message.html",
                    title="This reply can no longer be changed",
                    message="Replies can be changed or deleted for 15 minutes after posting, "
                    "from the browser they were written in.",
                    article=article,
                ),
                403,
            )
        )
    return comment, article


def _edit_key() -> str:
    return f"reply-edit:{request.view_args.get('comment_id')}"


@bp.route("/replies/<int:comment_id>/edit", methods=["GET", "POST"])
@no_store
@limiter.limit(EDIT_LIMIT, methods=["POST"], key_func=_edit_key, deduct_when=_counted)
@limiter.limit(_hourly_limit, methods=["POST"], deduct_when=_counted)
def edit(comment_id: int):
    comment, article = _own_reply(comment_id)
    form = EditForm()

    def locked(status: int):
        # A moderator decided on these words: the page says why it offers only deletion.
        return render_template(
            "comments/edit.html",
            form=form,
            comment=comment,
            article=article,
            locked=service.LOCKED_MESSAGE,
        ), status

    if service.is_locked(comment):
        return locked(403 if request.method == "POST" else 200)
    if request.method == "GET":
        form.body.data = comment.body_markdown
        return render_template("comments/edit.html", form=form, comment=comment, article=article)
    if not form.validate_on_submit():
        return render_template(
            "comments/edit.html", form=form, comment=comment, article=article, error=None
        ), 400
    try:
        service.edit_reply(db.session, comment, form.body.data or "")
    except service.ReplyError as exc:
        db.session.rollback()
        if service.is_locked(comment):  # decided while the author was typing
            return locked(403)
        return render_template(
            "comments/edit.html", form=form, comment=comment, article=article, error=str(exc)
        ), 400
    db.session.commit()
    if comment.status == "rejected":
        flash(
            "Your reply could not be published: it goes against our community guidelines.", "error"
        )
    elif comment.status == "pending":
        flash("Your reply was changed and is awaiting moderation again.", "info")
    response = redirect(url_for("articles.show", slug=article.slug) + f"#c-{comment.id}", code=303)
    _set_cookie(response, comment)
    return response


@bp.post("/replies/<int:comment_id>/delete")
@no_store
def delete(comment_id: int):
    comment, article = _own_reply(comment_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    service.delete_reply(db.session, comment)
    db.session.commit()
    flash("Your reply was deleted.", "info")
    response = redirect(url_for("articles.show", slug=article.slug) + "#replies", code=303)
    response.delete_cookie(f"{COOKIE_PREFIX}{comment.id}")
    return response


# --- Reports --------------------------------------------------------------------------------


@bp.route("/replies/<int:comment_id>/report", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def report(comment_id: int):
    comment = db.session.get(Comment, comment_id) if comment_id < 2**31 else None
    if comment is None or comment.status != "approved" or comment.deleted_at is not None:
        abort(404)
    article = db.session.get(Article, comment.article_id)
    form = ReportForm()
    if request.method == "POST" and form.validate_on_submit():
        try:
            service.report(db.session, comment, form.reason.data)
        except service.ReplyError:
            db.session.rollback()
            abort(400)
        db.session.commit()
        return render_template(
            "comments/message.html",
            title="Thank you for telling us",
            message="A moderator will look at this reply soon.",
            article=article,
            care=form.reason.data == "worried",
        )
    status = 400 if request.method == "POST" else 200
    return render_template(
        "comments/report.html", form=form, comment=comment, article=article, reasons=REPORT_REASONS
    ), status


# --- Reply notifications: double opt-in and one-click unsubscribe -------------------------


@bp.route("/replies/notifications/<token>", methods=["GET", "POST"])
@no_store
def confirm_notifications(token: str):
    try:
        payload = read_token("confirm", token)
    except TokenError as exc:
        return render_template(
            "comments/message.html", title="This link cannot be used", message=str(exc)
        ), (410 if exc.expired else 400)
    commenter_id = payload.get("cm") if isinstance(payload, dict) else None
    if not isinstance(commenter_id, int):
        return render_template(
            "comments/message.html", title="This link cannot be used", message="Not valid."
        ), 400
    commenter = db.session.get(Commenter, commenter_id) if 0 < commenter_id < 2**31 else None
    if not link_key_matches(commenter, payload) or commenter.email is None:
        return render_template(
            "comments/message.html",
            title="This link cannot be used",
            message="There is no address for this link any more.",
        ), 404
    form = ButtonForm()
    if not form.validate_on_submit():
        return render_template("comments/notify_confirm.html", form=form, token=token), (
            400 if request.method == "POST" else 200
        )
    service.confirm_notifications(db.session, commenter.id)
    db.session.commit()
    return render_template(
        "comments/message.html",
        title="Reply notifications are on",
        message="We will email you when someone replies to a reply where you ticked the box. "
        "Every email has a link to stop them.",
    )


def _is_one_click() -> bool:
    return request.form.get("List-Unsubscribe") == "One-Click"


@bp.route("/replies/u/<unsubscribe_id>", methods=["GET", "POST"])
@no_store
@csrf.exempt
@limiter.exempt
def unsubscribe(unsubscribe_id: str):
    """GET shows one button; POST (ours or a mail client's RFC 8058 one-click) stops reply
    notifications at once. The unguessable id is the credential."""
    commenter = service.find_by_unsubscribe_id(db.session, unsubscribe_id)
    if commenter is None:
        if request.method == "POST" and _is_one_click():
            return Response("This link is not valid.\n", 404, mimetype="text/plain")
        return render_template(
            "comments/message.html", title="This link is not valid", message=""
        ), 404
    if request.method == "GET":
        return render_template("comments/unsubscribe.html", unsubscribe_id=unsubscribe_id)
    service.stop_notifications(db.session, commenter)
    db.session.commit()
    if _is_one_click():
        return Response("Reply notifications are off.\n", 200, mimetype="text/plain")
    return render_template(
        "comments/message.html",
        title="Reply notifications are off",
        message="We will not email you about replies any more.",
    )


# --- Moderators' emailed links: one action, one reply, once, for 7 days --------------------


def _link_problem(title: str, message: str, status: int):
    return render_template("comments/link.html", problem=(title, message)), status


def _changed_since_read(comment: Comment, article: Article):
    """The reply's author edited it after the email was sent: show the new words, decide
    nothing. The edit put it back in the queue (and, in immediate mode, in a new email)."""
    return render_template(
        "comments/link.html",
        problem=(
            "This reply changed since you read it",
            "Its author edited it after this email was sent, so this link cannot approve it. "
            "Here is the reply as it is now; decide on it in the moderation queue.",
        ),
        comment=comment,
        article=article,
        text=emails.reply_as_text(comment, limit=5000),
    ), 409


@bp.route("/moderate/<action>/<token>", methods=["GET", "POST"])
@no_store
@limiter.limit("60 per hour", methods=["POST"])
def moderation_link(action: str, token: str):
    if action not in ("approve", "reject"):
        abort(404)
    try:
        payload = read_token("moderation-action", token)
    except TokenError as exc:
        if exc.expired:
            return _link_problem(
                "This link has expired",
                "Links in moderation emails work for 7 days. The reply is still in the queue.",
                410,
            )
        return _link_problem("This link is not valid", str(exc), 400)
    if not isinstance(payload, dict) or not isinstance(payload.get("l"), int):
        return _link_problem("This link is not valid", "It may have been copied incompletely.", 400)
    link = db.session.get(ModerationLink, payload["l"]) if 0 < payload["l"] < 2**31 else None
    if (
        not link_key_matches(link, payload)
        or link.comment_id != payload.get("c")
        or link.action != payload.get("a")
    ):
        return _link_problem("This link is not valid", "It may have been copied incompletely.", 400)
    if link.action != action:
        return _link_problem(
            "This link is for another action",
            f"This link can only {link.action} the reply. Use the other link in the email, "
            "or the moderation queue.",
            400,
        )
    now = utcnow()
    if link.used_at is not None:
        return _link_problem("This link was already used", "Each link works once.", 410)
    if link.expires_at < now:
        return _link_problem("This link has expired", "Links work for 7 days.", 410)
    comment = db.session.get(Comment, link.comment_id)
    if comment.status != "pending":
        return _link_problem(
            "This reply was already decided",
            f"It is now {comment.status}. Its history is in the moderation queue.",
            409,
        )
    article = db.session.get(Article, comment.article_id)
    # The text the moderator read: the email's (links made before this check carry none, so
    # the text their page showed, sent back by its form).
    seen = payload.get("h") if isinstance(payload.get("h"), str) else None
    if seen is None and request.method == "POST":
        seen = request.form.get("seen", "")[:64]
    if action == "approve" and seen is not None and seen != service.seen_hash(comment):
        return _changed_since_read(comment, article)
    form = ButtonForm()
    reason = (request.form.get("reason") or "").strip()[:500]
    if request.method == "GET" or not form.validate_on_submit():
        return render_template(
            "comments/link.html",
            problem=None,
            form=form,
            action=action,
            token=token,
            comment=comment,
            article=article,
            text=emails.reply_as_text(comment, limit=5000),
            seen=service.seen_hash(comment),
            reasons=service.REJECT_REASONS,
            reachable=emails.author_reachable(db.session, comment) is not None,
        ), (400 if request.method == "POST" else 200)
    if action == "reject" and reason not in service.REJECT_REASONS:
        reason = "Other"
    link.used_at = now
    try:
        service.moderate(
            db.session,
            comment,
            action,
            reason=f"{reason} (from the moderation email)"
            if reason
            else "from the moderation email",
            user_id=link.user_id,
            now=now,
            seen=seen,
            kind_note=request.form.get("kind_note") == "y",
        )
    except service.ReplyChanged:
        db.session.rollback()  # the link stays unused: nothing was decided with it
        return _changed_since_read(comment, article)
    db.session.commit()
    return render_template(
        "comments/link.html",
        problem=None,
        done=True,
        action=action,
        article=article,
        comment=comment,
    )
