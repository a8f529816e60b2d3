"""The dashboard's charts: inline SVG drawn on the server by pygal, with no script, font or
request of any kind.

pygal is told to load no JavaScript; what it writes for its interactive script anyway (a
settings <script>, hover tooltips, element ids) is removed, and so are its comments, which carry
its web address. Its <style> goes too: the site's Content-Security-Policy (`style-src 'self'`)
refuses inline styles, so the charts are styled from site.css (`.dash-chart`), in the site's
colours, and their text inherits the page's font.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from itertools import count

import pygal
from markupsafe import Markup
from pygal.style import Style

from engage.stats.dashboard import Day, SendOutcome

# pygal puts a finder for its map plugins (which we do not use) on sys.meta_path, one without
# find_spec: from then on every import of a missing module, anywhere in the process, warns
# (ImportWarning) on Python 3.11, an error under the test suite's `filterwarnings = error`.
sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

_ids = count(1)
# Drawing units across: at the page's width text stays readable; a phone scrolls the chart
# sideways (site.css) rather than shrink it.
WIDTH = 760
LABEL = 24  # characters of a subject on the chart; the table beside it has them whole
# Only for the interactive script we do not load.
_DROPPED_TAGS = ("script", "style", "title")
_DROPPED_CLASSES = ("tooltip-overlay", "text-overlay")


# Only the sizes matter (pygal lays out its margins from them): they match site.css.
_SIZES = Style(label_font_size=13, major_label_font_size=13, legend_font_size=14)


def _options(**extra) -> dict:
    return {
        "style": _SIZES,
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
            # Comments carry pygal's web address; its <title> says "Pygal"; the rest serves
            # only the interactive script we do not load.
            classes = (child.get("class") or "").split() if isinstance(child.tag, str) else []
            if (
                not isinstance(child.tag, str)
                or child.tag in _DROPPED_TAGS
                or any(name in classes for name in _DROPPED_CLASSES)
            ):
                parent.remove(child)
            elif (child.get("id") or "").startswith("activate-serie"):
                del child.attrib["id"]  # the same ids in every chart on the page
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


def _short(text: str) -> str:
    return text if len(text) <= LABEL else text[: LABEL - 1].rstrip() + "…"


def _day_label(day) -> str:
    return f"{day.day} {day.strftime('%b')}"


def growth_chart(days: list[Day]) -> Markup:
    """Net change in confirmed subscribers per day: bars above the line for growth, below
    for loss."""
    chart = pygal.Bar(
        **_options(
            show_legend=False,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=max(1, len(days) // 6),
            truncate_label=-1,
            height=320,
            width=WIDTH,
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
        **_options(
            legend_at_bottom=True,
            legend_at_bottom_columns=2,
            truncate_legend=-1,
            height=120 + 70 * len(sends),
            width=WIDTH,
        ),
    )
    ordered = list(reversed(sends))  # newest at the top, as in the table
    chart.x_labels = [_short(send.subject) for send in ordered]
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
