"""`?page=&per_page=` for list endpoints, and the page envelope they answer with."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import quote, urlencode

from flask import current_app, request
from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
# Far beyond any real list, and small enough that OFFSET never overflows a bigint.
MAX_PAGE = 100_000

ItemT = TypeVar("ItemT")


class PageQuery(BaseModel):
    """The paging parameters. Subclass it to add filters to a list endpoint's query model."""

    page: int = Field(1, ge=1, le=MAX_PAGE, description="Page number, from 1.")
    per_page: int = Field(
        DEFAULT_PER_PAGE,
        ge=1,
        le=MAX_PER_PAGE,
        description=f"Items per page, at most {MAX_PER_PAGE}.",
    )


class Page(BaseModel, Generic[ItemT]):
    """One page of a list. `next` is the URL of the following page, or null on the last."""

    items: list[ItemT]
    page: int
    per_page: int
    total: int
    pages: int
    next: str | None


def page_url(page: int) -> str:
    """This request's URL on the public base URL, with every parameter kept but `page`."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    args.append(("page", str(page)))
    base = current_app.config["ENGAGE"].base_url
    return f"{base}{quote(request.script_root + request.path)}?{urlencode(args)}"


def paginate(
    session: Session,
    statement: Select,
    params: PageQuery,
    item: Callable[[Any], Any] = lambda row: row,
) -> dict[str, Any]:
    """One page of `statement` (which must be ordered, and unique, for stable pages).

    Returns the `Page` envelope as a dict, `item(row)` applied to each row of `session.scalars`;
    declare the endpoint's response as `Page[ItemModel]`. Past the last page, items are empty.
    """
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    total = int(total or 0)
    offset = (params.page - 1) * params.per_page
    rows = (
        session.scalars(statement.limit(params.per_page).offset(offset)).all()
        if offset < total
        else []
    )
    pages = math.ceil(total / params.per_page)
    return {
        "items": [item(row) for row in rows],
        "page": params.page,
        "per_page": params.per_page,
        "total": total,
        "pages": pages,
        "next": page_url(params.page + 1) if params.page < pages else None,
    }
