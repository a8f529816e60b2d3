"""Digests in the JSON API, for editors: send the due digests now."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from engage.api import api_route
from engage.community import digests
from engage.extensions import db
from engage.newsletters.api import CountsOut

TAGS = ["digests"]


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    frequency: Literal["weekly", "daily"]


class RunOut(BaseModel):
    edition_id: int
    frequency: Literal["weekly", "daily"]
    period: str = Field(description='UTC period of the edition: "2026-11-28" or "2026-W48".')
    due: int = Field(description="Readers found due by this run.")
    queued: int = Field(description="Digests this run queued for sending.")
    empty: int = Field(description="Due readers with nothing new: no email, mark moved.")
    renders: int = Field(description="Distinct digest contents this run rendered or reused.")
    counts: CountsOut = Field(description="The whole edition's deliveries by status.")


@api_route(
    "/digests/run",
    methods=["POST"],
    role="editor",
    body=RunIn,
    response=RunOut,
    summary="Send the due digests now",
    tags=TAGS,
)
def run_digests(body: RunIn):
    """Finds every reader due a digest of this frequency now (their local send hour has
    passed and they have not had this period's digest), queues their digests and starts
    sending. Running it again sends nothing twice; `counts` show the edition's progress."""
    result = digests.run(db.session, body.frequency, max_batches=None)
    return RunOut(
        edition_id=result.edition_id,
        frequency=result.frequency,
        period=result.period,
        due=result.due,
        queued=result.queued,
        empty=result.empty,
        renders=result.renders,
        counts=CountsOut(**digests.counts(db.session, result.edition_id)),
    )
