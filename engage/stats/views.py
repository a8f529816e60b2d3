"""What the staff dashboard (`/admin/`, engage/accounts/views.py) adds from this package."""

from __future__ import annotations

from engage.extensions import db
from engage.stats import charts, dashboard


def dashboard_context(user) -> dict:
    """Template values for the dashboard: the waiting work this person may do and, for
    editors, the audience figures with their charts. Reads only; commits nothing."""
    editor = user.can("editor")
    context = {
        "waiting": dashboard.waiting(db.session, moderator=user.can("moderator"), editor=editor),
        "stats": None,
    }
    if editor:
        stats = dashboard.stats(db.session)
        context["stats"] = stats
        context["growth_svg"] = charts.growth_chart(stats.series)
        context["outcomes_svg"] = charts.outcomes_chart(stats.sends) if stats.sends else None
    return context
