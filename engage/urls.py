"""Absolute URLs for emails and feeds, always from BASE_URL.

Never from the request's Host header: a forged Host must not end up in a link we email.
Works in a worker too, where there is no request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app


def external_url(endpoint: str, **values) -> str:
    base = urlsplit(current_app.config["ENGAGE"].base_url)
    adapter = current_app.url_map.bind(
        base.netloc, url_scheme=base.scheme or "https", script_name=base.path or "/"
    )
    return adapter.build(endpoint, values, force_external=True)
