from flask import Blueprint, render_template
from sqlalchemy import select

from engage.articles.models import Article
from engage.extensions import db

bp = Blueprint("articles", __name__)


@bp.get("/")
def home():
    articles = db.session.scalars(select(Article).order_by(Article.published_at.desc())).all()
    return render_template("articles/home.html", articles=articles)
