"""The dashboard's charts: inline SVG drawn on the server by pygal, with no script, font or
request of any kind (pygal is told to load no JavaScript; the settings <script> it writes
anyway and its comments, which carry its web address, are removed). Text in the chart
inherits the page's font; colours are the site's.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import count

import pygal
from markupsafe import Markup
from pygal.style import Style

from engage.stats.dashboard import Day, SendOutcome

# The site's palette (engage/static/site.css): accent, warning ochre, error red, muted grey.
ACCENT, OCHRE, ERROR, MUTED, TEXT, LINE = (
    "#1d5f6b",
    "#8a6d1f",
    "#9b1c1c",
    "#4f5d62",
    "#1f2a2e",
    "#dcd8cf",
)

_ids = count(1)


def _style(*colors: str) -> Style:
    return Style(
        background="transparent",
        plot_background="transparent",
        foreground=TEXT,
        foreground_strong=TEXT,
        foreground_subtle=LINE,
        font_family="inherit",
        label_font_size=13,
        major_label_font_size=13,
        legend_font_size=14,
        value_font_size=12,
        tooltip_font_size=12,
        title_font_size=16,
        colors=colors,
        opacity="1",
        opacity_hover="1",
        transition="none",
    )


def _options(**extra) -> dict:
    return {
        "js": [],  # no script: the chart is a picture, its numbers are in the table beside it
        "disable_xml_declaration": True,
        "explicit_size": False,
        "show_title": False,  # the page's heading names it; the SVG carries its own <title>
        "tooltip_border_radius": 0,
        "margin": 8,
        **extra,
    }


def _finish(chart, title: str, description: str) -> Markup:
    """Render to an inline <svg role="img"> named by its <title> and <desc>, comments gone."""
    # pygal builds unqualified elements and writes `xmlns` as a plain attribute.
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            # Comments carry pygal's web address; the <script> it writes even with js=[]
            # only hands settings to the interactive script we do not load; its <title>
            # says "Pygal".
            if not isinstance(child.tag, str) or child.tag in ("script", "title"):
                parent.remove(child)
    ident = f"stats-chart-{next(_ids)}"
    title_el = ET.Element("title", {"id": f"{ident}-title"})
    title_el.text = title
    desc_el = ET.Element("desc", {"id": f"{ident}-desc"})
    desc_el.text = description
    root.insert(0, desc_el)
    root.insert(0, title_el)
    root.set("role", "img")
    root.set("aria-labelledby", f"{ident}-title {ident}-desc")
    # ElementTree escapes every text and attribute (a subject with "<" stays text).
    return Markup(ET.tostring(root, encoding="unicode"))  # noqa: S704


def _day_label(day) -> str:
    return f"{day.day} {day.strftime('%b')}"


def growth_chart(days: list[Day]) -> Markup:
    """Net change in confirmed subscribers per day: bars above the line for growth, below
    for loss."""
    chart = pygal.Bar(
        style=_style(ACCENT),
        **_options(
            show_legend=False,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(days) // 6),
            truncate_label=-1,
            height=320,
            width=900,
            show_x_guides=False,
        ),
    )
    chart.x_labels = [_day_label(d.day) for d in days]
    chart.add("Net growth", [d.net_growth for d in days])
    gained = sum(d.net_growth for d in days)
    first, last = days[0].day, days[-1].day
    return _finish(
        chart,
        f"Net subscriber growth per day, {_day_label(first)} to {_day_label(last)}",
        f"Change in confirmed subscribers each day over {len(days)} days; "
        f"{gained:+,} in all. The table below gives each day's numbers.",
    )


def outcomes_chart(sends: list[SendOutcome]) -> Markup:
    """Per send: delivered, deferred, bounced, and unsubscribed within 7 days."""
    chart = pygal.HorizontalBar(
        style=_style(ACCENT, OCHRE, ERROR, MUTED),
        **_options(
            legend_at_bottom=True,
            legend_at_bottom_columns=2,
            truncate_label=28,
            truncate_legend=-1,
            height=120 + 70 * len(sends),
            width=900,
        ),
    )
    ordered = list(reversed(sends))  # newest at the top, as in the table
    chart.x_labels = [send.subject for send in ordered]
    chart.add("Delivered", [send.delivered for send in ordered])
    chart.add("Deferred", [send.deferred for send in ordered])
    chart.add("Bounced", [send.bounced for send in ordered])
    chart.add("Unsubscribed within 7 days", [send.unsubscribed for send in ordered])
    return _finish(
        chart,
        f"Outcomes of the latest {len(sends)} send{'s' if len(sends) != 1 else ''}",
        "For each send: messages delivered, deferred, bounced, and recipients who "
        "unsubscribed within seven days. The table below gives the numbers.",
    )
