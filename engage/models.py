"""Every model in one import, for Alembic and the shell. Each lives in its area's package."""

from engage.accounts.models import ApiKey, StaffNotification, User
from engage.articles.models import Article
from engage.comments.models import Comment, ModerationAction
from engage.community.models import DigestEdition, DigestRender, Event, SupportGroup
from engage.newsletters.models import Newsletter
from engage.sending.models import BounceEvent, Delivery, OutboxMessage
from engage.stats.models import DailyStat
from engage.subscriptions.importing import ImportJob, ImportRejection
from engage.subscriptions.models import (
    Consent,
    Subscriber,
    Suppression,
    SuppressionLift,
    Topic,
)

__all__ = [
    "ApiKey",
    "Article",
    "BounceEvent",
    "Comment",
    "Consent",
    "DailyStat",
    "Delivery",
    "DigestEdition",
    "DigestRender",
    "Event",
    "ImportJob",
    "ImportRejection",
    "ModerationAction",
    "Newsletter",
    "OutboxMessage",
    "Subscriber",
    "Suppression",
    "SuppressionLift",
    "SupportGroup",
    "StaffNotification",
    "Topic",
    "User",
]
