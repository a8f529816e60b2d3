"""Reading a rendered form the way a reader's browser would: the error summary's links, a
field's attributes, every id on the page. Built on the standard library's HTML parser."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Page:
    """What the parser found: attributes by id, the summary's links, how often each id occurs."""

    by_id: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: Counter = field(default_factory=Counter)
    summary_links: list[tuple[str, str]] = field(default_factory=list)
    text_by_id: dict[str, str] = field(default_factory=dict)
    signup_forms: int = 0
    checked: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._summary_depth = 0  # >0 while inside an error summary
        self._link: str | None = None
        self._text: list[str] = []
        self._open_ids: list[tuple[str, str]] = []  # (tag, id) whose text is being gathered

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.page.ids[values["id"]] += 1
            self.page.by_id.setdefault(values["id"], {"tag": tag, **values})
            if tag in ("span", "p", "h1", "h2", "h3", "h4", "a"):
                self._open_ids.append((tag, values["id"]))
                self.page.text_by_id.setdefault(values["id"], "")
        # A sign-up form POSTs to /subscribe; the crisis box's country menu on that page is a
        # GET form to the page itself.
        if (
            tag == "form"
            and values.get("action", "").startswith("/subscribe")
            and values.get("method", "get").lower() == "post"
        ):
            self.page.signup_forms += 1
        if tag == "input" and "checked" in values:
            self.page.checked.append(values.get("id") or values.get("name", ""))
        if tag == "div" and "data-error-summary" in values:
            self._summary_depth = 1
        elif self._summary_depth and tag == "div":
            self._summary_depth += 1
        if self._summary_depth and tag == "a":
            self._link, self._text = values.get("href", ""), []

    def handle_endtag(self, tag):
        if self._summary_depth and tag == "a" and self._link is not None:
            self.page.summary_links.append((self._link, " ".join("".join(self._text).split())))
            self._link = None
        if self._summary_depth and tag == "div":
            self._summary_depth -= 1
        if self._open_ids and self._open_ids[-1][0] == tag:
            self._open_ids.pop()

    def handle_data(self, data):
        if self._link is not None:
            self._text.append(data)
        for _tag, open_id in self._open_ids:
            self.page.text_by_id[open_id] += data


def read(html: str) -> Page:
    """Parse a page; `text_by_id` values have their white space collapsed."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    page = reader.page
    page.text_by_id = {key: " ".join(value.split()) for key, value in page.text_by_id.items()}
    return page


def duplicates(page: Page) -> dict[str, int]:
    return {key: count for key, count in page.ids.items() if count > 1}


def assert_field_error(page: Page, field_id: str, message: str) -> None:
    """The field is marked invalid and described by its own error, which says `message`."""
    attrs = page.by_id[field_id]
    assert attrs.get("aria-invalid") == "true", attrs
    error_id = f"{field_id}-error"
    assert error_id in attrs.get("aria-describedby", "").split(), attrs
    assert page.text_by_id[error_id] == message
