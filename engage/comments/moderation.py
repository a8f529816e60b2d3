"""The moderation queue in the admin: tabs with counts, decisions one by one or in bulk,
the history of a reply and of a commenter, sanctions and domain rules."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from engage.accounts.access import role_required
from engage.articles.models import Article
from engage.comments import service
from engage.comments.emails import reachable_replies
from engage.comments.forms import ButtonForm, DomainRuleForm, ModerateForm, SanctionForm
from engage.comments.models import (
    REPORT_REASONS,
    Comment,
    CommentReport,
    DomainRule,
    ModerationAction,
    Sanction,
)
from engage.extensions import db
from engage.subscriptions.service import InvalidAddress

bp = Blueprint("comments_admin", __name__, url_prefix="/admin/comments")

PER_PAGE = 25
TAB_LABELS = {
    "pending": "Pending",
    "needs_care": "Needs care",
    "reported": "Reported",
    "approved": "Approved",
    "rejected": "Rejected",
    "spam": "Spam",
}


moderator_required = role_required("moderator")


def _tab() -> str:
    tab = request.values.get("tab", "pending")
    return tab if tab in TAB_LABELS else "pending"


def _page() -> int:
    raw = request.values.get("page", "1")
    return max(1, min(int(raw), 10_000)) if raw.isdigit() else 1


def _reachable(comments: list[Comment]) -> set[int]:
    """Ids of the replies whose author a kind note could reach (asked for reply emails and
    confirmed the address), leaving out those already rejected."""
    return reachable_replies(db.session, [c for c in comments if c.status != "rejected"])


def _context_for(comments: list[Comment]) -> tuple[dict, dict, dict]:
    """Articles, parents and open reports for a page of the queue, in three queries."""
    article_ids = {c.article_id for c in comments}
    parent_ids = {c.parent_id for c in comments if c.parent_id}
    ids = [c.id for c in comments]
    articles = (
        {a.id: a for a in db.session.scalars(select(Article).where(Article.id.in_(article_ids)))}
        if article_ids
        else {}
    )
    parents = (
        {p.id: p for p in db.session.scalars(select(Comment).where(Comment.id.in_(parent_ids)))}
        if parent_ids
        else {}
    )
    reports: dict[int, list[str]] = {}
    if ids:
        rows = db.session.execute(
            select(CommentReport.comment_id, CommentReport.reason).where(
                CommentReport.comment_id.in_(ids), CommentReport.resolved_at.is_(None)
            )
        )
        for comment_id, reason in rows:
            reports.setdefault(comment_id, []).append(REPORT_REASONS.get(reason, reason))
    return articles, parents, reports


@bp.get("/")
@moderator_required
def queue():
    tab, page = _tab(), _page()
    statement = service.queue_statement(tab)
    comments = db.session.scalars(statement.limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    articles, parents, reports = _context_for(list(comments))
    return render_template(
        "comments/queue.html",
        tab=tab,
        tabs=TAB_LABELS,
        counts=service.queue_counts(db.session),
        comments=comments,
        articles=articles,
        parents=parents,
        reports=reports,
        page=page,
        pages=max(1, -(-int(total or 0) // PER_PAGE)),
        form=ModerateForm(),
        reasons=service.REJECT_REASONS,
        reachable=_reachable(list(comments)),
        show_email=current_user.can("admin"),
    )


def _back(tab: str, page: int, next_id: str | None):
    # Back to the same tab and page, at the reply that followed the one decided: the queue
    # does not jump to the top after an action.
    anchor = f"#c-{next_id}" if next_id and next_id.isdigit() else ""
    return redirect(url_for("comments_admin.queue", tab=tab, page=page) + anchor, code=303)


def _reason() -> str:
    chosen = (request.form.get("reason") or "").strip()[:200]
    note = (request.form.get("note") or "").strip()[:300]
    return f"{chosen}: {note}" if chosen and note else chosen or note


@bp.post("/<int:comment_id>/<action>")
@moderator_required
def decide(comment_id: int, action: str):
    if action not in service.DECISIONS:
        abort(404)
    form = ModerateForm()
    if not form.validate_on_submit():
        abort(400)
    comment = db.session.get(Comment, comment_id) if comment_id < 2**31 else None
    if comment is None:
        abort(404)
    reason = _reason()
    if action == "reject" and not reason:
        reason = "Other"
    try:
        service.moderate(
            db.session,
            comment,
            action,
            reason=reason,
            user_id=current_user.id,
            seen=(request.form.get("seen") or "")[:64],
            kind_note=request.form.get("kind_note") == "y",
        )
    except service.ReplyChanged:
        db.session.rollback()
        return _changed(comment)
    db.session.commit()
    flash(f"Reply {comment.id}: {service.DECISIONS[action]}.", "info")
    return _back(_tab(), _page(), form.next_id.data)


def _changed(comment: Comment):
    """The reply was edited after the queue page showed it: its new words, to decide again."""
    _, _, reports = _context_for([comment])
    return render_template(
        "comments/changed.html",
        c=comment,
        article=db.session.get(Article, comment.article_id),
        form=ModerateForm(),
        tab=_tab(),
        page=_page(),
        reports=reports,
        reasons=service.REJECT_REASONS,
        reachable=_reachable([comment]),
    ), 409


@bp.post("/bulk")
@moderator_required
def bulk():
    form = ModerateForm()
    action = request.form.get("action", "")
    if not form.validate_on_submit() or action not in service.DECISIONS:
        abort(400)
    ids = [int(i) for i in request.form.getlist("ids") if i.isdigit() and len(i) < 10][:200]
    comments = (
        db.session.scalars(select(Comment).where(Comment.id.in_(ids)).order_by(Comment.id)).all()
        if ids
        else []
    )  # in id order: concurrent bulk decisions lock rows in the same order
    reason = _reason() or ("Other" if action == "reject" else "")
    changed = []
    for comment in comments:
        seen = (request.form.get(f"seen-{comment.id}") or "")[:64]
        try:  # raised before anything is changed
            service.moderate(
                db.session, comment, action, reason=reason, user_id=current_user.id, seen=seen
            )
        except service.ReplyChanged:
            changed.append(comment.id)
    db.session.commit()
    done = len(comments) - len(changed)
    flash(f"{done} {'reply' if done == 1 else 'replies'}: {service.DECISIONS[action]}.", "info")
    if changed:
        flash(
            f"{len(changed)} {'reply' if len(changed) == 1 else 'replies'} changed since you read "
            f"them and {'was' if len(changed) == 1 else 'were'} not approved: "
            f"{', '.join(str(i) for i in changed)}. Read {'it' if len(changed) == 1 else 'them'} "
            "again below.",
            "error",
        )
    return _back(_tab(), _page(), form.next_id.data)


@bp.get("/<int:comment_id>/history")
@moderator_required
def history(comment_id: int):
    comment = db.session.get(Comment, comment_id) if comment_id < 2**31 else None
    if comment is None:
        abort(404)
    actions = db.session.scalars(
        select(ModerationAction)
        .where(ModerationAction.comment_id == comment.id)
        .order_by(ModerationAction.created_at, ModerationAction.id)
    ).all()
    reports = db.session.scalars(
        select(CommentReport)
        .where(CommentReport.comment_id == comment.id)
        .order_by(CommentReport.id)
    ).all()
    return render_template(
        "comments/history.html",
        comment=comment,
        article=db.session.get(Article, comment.article_id),
        actions=actions,
        reports=reports,
        report_reasons=REPORT_REASONS,
        actors=_actor_names(actions),
        show_email=current_user.can("admin"),
    )


def _actor_names(actions) -> dict[int, str]:
    from engage.accounts.models import User

    ids = {a.actor_user_id for a in actions if a.actor_user_id}
    if not ids:
        return {}
    users = db.session.scalars(select(User).where(User.id.in_(ids)))
    return {u.id: u.display_name or u.email for u in users}


@bp.get("/commenter/<email_hash>")
@moderator_required
def commenter(email_hash: str):
    if len(email_hash) != 64 or not all(c in "0123456789abcdef" for c in email_hash):
        abort(404)
    comments = db.session.scalars(
        select(Comment)
        .where(Comment.author_email_hash == email_hash)
        .order_by(Comment.created_at.desc(), Comment.id.desc())
        .limit(200)
    ).all()
    ids = [c.id for c in comments]
    actions = (
        db.session.scalars(
            select(ModerationAction)
            .where(ModerationAction.comment_id.in_(ids))
            .order_by(ModerationAction.created_at.desc(), ModerationAction.id.desc())
            .limit(500)
        ).all()
        if ids
        else []
    )
    counts: dict[str, int] = {}
    for c in comments:
        counts[c.status] = counts.get(c.status, 0) + 1
    return render_template(
        "comments/commenter.html",
        email_hash=email_hash,
        comments=comments,
        actions=actions,
        actors=_actor_names(actions),
        counts=counts,
        sanctions=service.sanctions_of(db.session, email_hash),
        form=ButtonForm(),
    )


@bp.post("/commenter/<email_hash>/<kind>/<change>")
@moderator_required
def commenter_sanction(email_hash: str, kind: str, change: str):
    if kind not in ("ban", "premoderate") or change not in ("add", "lift") or len(email_hash) != 64:
        abort(404)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if change == "add":
        service.sanction(db.session, email_hash, kind, user_id=current_user.id)
    else:
        service.lift_sanction(db.session, email_hash, kind)
    db.session.commit()
    flash("Saved.", "info")
    return redirect(url_for("comments_admin.commenter", email_hash=email_hash), code=303)


@bp.post("/commenter/<email_hash>/erase")
@moderator_required
def erase(email_hash: str):
    if len(email_hash) != 64:
        abort(404)
    if not ButtonForm().validate_on_submit() or request.form.get("sure") != "yes":
        flash("Tick the box to confirm the erasure.", "error")
        return redirect(url_for("comments_admin.commenter", email_hash=email_hash), code=303)
    erased = service.erase_commenter(db.session, email_hash, user_id=current_user.id)
    db.session.commit()
    flash(f"Erased the name, address and text of {erased} replies.", "info")
    return redirect(url_for("comments_admin.commenter", email_hash=email_hash), code=303)


@bp.route("/sanctions", methods=["GET", "POST"])
@moderator_required
def sanctions():
    form = SanctionForm(prefix="address")
    domain_form = DomainRuleForm(prefix="domain")
    if request.method == "POST":
        if (
            form.kind.data not in ("ban", "premoderate")
            and domain_form.kind.data
            not in (
                "ban",
                "premoderate",
            )
            and request.form.get("form") != "remove-domain"
        ):
            abort(400)
        if request.form.get("form") == "address" and form.validate_on_submit():
            try:
                email_hash = service.sanction_address(
                    db.session, form.address.data or "", form.kind.data, user_id=current_user.id
                )
            except InvalidAddress as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                db.session.commit()
                flash("Saved: the address is kept only as a keyed hash.", "info")
                return redirect(url_for("comments_admin.commenter", email_hash=email_hash))
        elif request.form.get("form") == "domain" and domain_form.validate_on_submit():
            try:
                service.set_domain_rule(
                    db.session,
                    domain_form.domain.data,
                    domain_form.kind.data,
                    user_id=current_user.id,
                )
            except service.ReplyError as exc:
                db.session.rollback()
                flash(str(exc), "error")
            else:
                db.session.commit()
                flash("Domain rule saved.", "info")
        elif request.form.get("form") == "remove-domain" and ButtonForm().validate_on_submit():
            raw = request.form.get("rule_id", "")
            if raw.isdigit():
                service.remove_domain_rule(db.session, int(raw))
                db.session.commit()
                flash("Domain rule removed.", "info")
        else:
            abort(400)
        return redirect(url_for("comments_admin.sanctions"), code=303)
    rules = db.session.scalars(select(DomainRule).order_by(DomainRule.domain)).all()
    address_sanctions = db.session.scalars(
        select(Sanction).order_by(Sanction.created_at.desc(), Sanction.id.desc()).limit(500)
    ).all()
    return render_template(
        "comments/sanctions.html",
        form=form,
        domain_form=domain_form,
        rules=rules,
        address_sanctions=address_sanctions,
        button=ButtonForm(),
    )
