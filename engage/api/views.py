"""The foundation endpoints: who am I, the articles, and the OpenAPI document."""

from __future__ import annotations

from typing import Literal

from flask import current_app, jsonify, url_for
from pydantic import BaseModel
from sqlalchemy import select

from engage.api.framework import ANY_ROLE, PUBLIC, ApiError, Timestamp, api_route, current_api_key
from engage.api.openapi import openapi_document
from engage.api.pagination import Page, PageQuery, paginate
from engage.articles.models import Article
from engage.articles.service import render_markdown
from engage.extensions import db


class Me(BaseModel):
    name: str
    role: Literal["admin", "editor", "moderator"]


class ArticleSummary(BaseModel):
    id: int
    slug: str
    title: str
    summary: str
    published_at: Timestamp | None
    url: str


class ArticleDetail(ArticleSummary):
    body_markdown: str
    body_html: str


def _article_url(article: Article) -> str:
    return current_app.config["ENGAGE"].base_url + url_for("articles.show", slug=article.slug)


def _summary(article: Article) -> ArticleSummary:
    return ArticleSummary(
        id=article.id,
        slug=article.slug,
        title=article.title,
        summary=article.summary,
        published_at=article.published_at,
        url=_article_url(article),
    )


@api_route("/openapi.json", role=PUBLIC, summary="This API's OpenAPI 3.1 document", tags=["meta"])
def openapi():
    """Generated from the endpoint declarations; needs no key."""
    return jsonify(openapi_document(current_app))


@api_route("/me", role=ANY_ROLE, response=Me, summary="The key making this request", tags=["meta"])
def me():
    key = current_api_key()
    return Me(name=key.name, role=key.role)


@api_route(
    "/articles",
    role=ANY_ROLE,
    query=PageQuery,
    response=Page[ArticleSummary],
    summary="List articles",
    tags=["articles"],
)
def list_articles(query: PageQuery):
    """Every article, drafts included: published ones newest first, then unpublished ones.

    `published_at` is null for a draft and in the future for a scheduled article.
    """
    statement = select(Article).order_by(
        Article.published_at.is_(None), Article.published_at.desc(), Article.id.desc()
    )
    return paginate(db.session, statement, query, _summary)


@api_route(
    "/articles/<slug>",
    role=ANY_ROLE,
    response=ArticleDetail,
    summary="One article, with its body",
    tags=["articles"],
)
def get_article(slug: str):
    """`body_html` is the Markdown rendered as the article page shows it (raw HTML escaped)."""
    article = db.session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        raise ApiError(404, "There is no article with this slug.")
    return ArticleDetail(
        **_summary(article).model_dump(),
        body_markdown=article.body_markdown,
        body_html=render_markdown(article.body_markdown),
    )
