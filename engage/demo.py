"""Demo content for development: articles, topics, support groups, events and staff logins.

`load()` is idempotent: every row is found by its natural key (slug or email) and created only
when missing, so running it twice leaves the same rows. It flushes; the caller commits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from engage.accounts import service as accounts
from engage.accounts.models import User
from engage.articles.models import Article
from engage.community.models import Event, SupportGroup
from engage.subscriptions.models import Topic
from engage.types import utcnow

DEFAULT_PASSWORD = "engage-demo-2026"  # noqa: S105  (published on purpose: development only)

STAFF = (
    ("admin", "admin@example.org", "Demo Admin"),
    ("editor", "editor@example.org", "Demo Editor"),
    ("moderator", "moderator@example.org", "Demo Moderator"),
)

TOPICS = (
    {
        "slug": "newsletter",
        "name": "The newsletter",
        "description": "New articles and occasional news from the publication.",
        "is_default": True,
    },
    {
        "slug": "groups-and-events",
        "name": "Groups and events",
        "description": "Newly listed support groups and upcoming meetings.",
        "is_default": False,
    },
    {
        "slug": "carers",
        "name": "For family and carers",
        "description": "Pieces for people supporting someone they love.",
        "is_default": False,
    },
)

ARTICLES = (
    {
        "slug": "what-is-a-support-group",
        "title": "What a support group is, and what it is not",
        "summary": (
            "A room (or a screen) of people who know something of what you are living through. "
            "Here is what usually happens in one, and what you can expect of it."
        ),
        "days_ago": 31,
        "body": """\
A support group is a regular meeting of people who share an experience: living with anxiety,
caring for a parent with dementia, grieving a partner, recovering from an eating disorder. They
meet to talk about it with others who do not need it explained. That is the whole idea, and it is
a surprisingly powerful one.

Most groups follow a simple pattern. Someone opens the meeting and reminds everyone of a few
agreements, usually that what is said in the room stays in the room and that nobody has to speak.
Then people take turns to share how things have been, and others listen. Some groups have a theme
for each session; many do not.

## What people find there

People who have been going for a while often describe the same few things:

- **Recognition.** Hearing someone else describe a thought you believed only you had can loosen
  its grip a little.
- **Practical knowledge.** Members swap what has helped them: which forms to fill in, how to
  explain a bad day to an employer, what to say to a GP.
- **Company over time.** A group that meets every fortnight becomes a fixed point when other
  things are shifting.

## What a group does not do

A support group is not a treatment. The people running it are usually volunteers with lived
experience, not clinicians, and they will not diagnose you, change your medication or work through
a trauma with you in detail. A good group knows this about itself and will say so.

That is why we describe groups as a complement to professional care, not a replacement for it.
Many members see a therapist or a doctor as well, and use the group for the things a fifty-minute
appointment cannot give: time with peers, and the sense of not being the only one.

If you are in crisis right now, a group meeting next Tuesday is not the right help. The numbers at
the bottom of every page are.
""",
    },
    {
        "slug": "support-groups-and-group-therapy",
        "title": "Support groups and group therapy: how they differ",
        "summary": (
            "Both involve sitting in a circle with strangers. The similarities mostly end there. "
            "A plain guide to which is which."
        ),
        "days_ago": 22,
        "body": """\
People often use "support group" and "group therapy" as if they meant the same thing. They do not,
and knowing the difference helps you choose, and helps you know what to expect when you walk in.

## Who leads it

Group therapy is led by a trained, registered therapist, sometimes two. They plan the sessions,
watch how the group is working and step in deliberately. A support group is usually led by a
member, or a volunteer who has been through something similar. Some are hosted by a charity
and have a trained facilitator, but the facilitator's job is to keep the meeting safe and fair,
not to treat anyone.

## What it is for

Group therapy has a clinical aim: reducing symptoms, changing a pattern of thinking, working on
how you relate to others. There is often an assessment before you join, a fixed number of
sessions, and a plan. A support group's aim is mutual support. There is rarely an assessment,
people come and go, and the group may run for years.

## How you join, and what it costs

Group therapy is usually reached through a referral from a doctor or a mental-health service, or
booked privately, and the group is closed: the same people start and finish together. Support
groups are mostly open: you can turn up, or send an email first, and many are free or ask for a
small contribution to the room.

## Which one, then?

It is not either/or. Some people do a course of group therapy and then keep going to a peer group
afterwards, because the company helps them hold on to what they learned. Others go to a support
group while they wait for treatment to begin.

If you are unsure which you need, a GP or a counsellor can help you think it through. And if a
group describes itself as "therapy" but nobody running it has a professional registration you can
check, treat that as a question worth asking.
""",
    },
    {
        "slug": "online-support-groups",
        "title": "Meeting online: what to expect from a virtual support group",
        "summary": (
            "Online groups have made support reachable for people who cannot get to a room on a "
            "weekday evening. A few things are different, and worth knowing before the first call."
        ),
        "days_ago": 12,
        "body": """\
For a lot of people the nearest group for their situation is two hours away, or meets at a time
that clashes with work, childcare or the last bus home. Online groups changed that. You can join
from your kitchen table, and nobody needs to see the kitchen.

## The first call

Most online groups send a link by email after you register, and some ask for a short call with
the organiser first. Joining a few minutes early gives you time to check your sound. It is usually
fine to keep your camera off at first, and to use only your first name, or a name you choose for
the group. If you are not sure, ask the organiser beforehand; it is a common question.

## Privacy at home

Think about who else can hear. Headphones help the others in the group as much as you: what they
share is meant for the group only. If you cannot find a private space, the text chat is a
legitimate way to take part, and many groups welcome it.

Ask how the group is run: whether meetings are ever recorded (a good peer group will almost never
record), who can see the list of participants, and what happens to the sign-up details you gave.

## What is harder online

It is easier to drift in and out of an online group, which is a freedom and sometimes a loss.
Small talk before and after a meeting, where a lot of friendship in groups begins, is harder on a
call. Some groups keep a few minutes open at the end for exactly that.

It can also be harder for a facilitator to notice when someone is struggling. If a meeting leaves
you feeling worse, tell the organiser, or reach for the crisis contacts at the bottom of this page.
You do not need to wait for the next session.

## Mixing the two

Several groups now run hybrid meetings, with people in a room and others on a screen. They take a
bit more organising, but they let a group keep members who move away, fall ill or simply cannot
face a room some weeks.
""",
    },
    {
        "slug": "finding-a-support-group",
        "title": "Finding a group that fits, and the questions worth asking",
        "summary": (
            "The right group can make a real difference; the wrong one can put you off for years. "
            "How to look, and what to ask before you go."
        ),
        "days_ago": 4,
        "body": """\
There is no single register of support groups, so finding one takes a little detective work. The
good news is that most groups want to be found, and organisers are generally happy to answer
questions from someone thinking of coming along.

## Where to look

- **National charities** for a particular condition or experience often keep lists of local and
  online groups, and some run their own.
- **Your GP practice, community mental-health team or counsellor** will often know what exists
  locally, including groups that do not advertise much.
- **Libraries and community centres** have noticeboards that are still, quietly, one of the best
  sources.
- **Listings like ours.** Every group we list has been checked by an editor, but we have not sat in
  on every meeting. Use the listing as a starting point, not a guarantee.

## Questions to ask before you go

It is perfectly reasonable to email or call an organiser first. Some questions that tend to help:

1. Who is the group for, and who runs it? Is the organiser a peer, a professional, or a charity?
2. What happens in a typical meeting? Is there a structure, a theme, a time limit for sharing?
3. Do I have to speak? (The answer should be "no".)
4. How is confidentiality handled, and what happens if someone seems to be at risk?
5. Is there a cost, and is there help with it if money is tight?
6. Is the venue accessible, or the call captioned, if you need that?

## Give it more than one try

First meetings are often awkward. People are sizing each other up, and you will be the newest face
in the room. Many members say it was the second or third meeting when it started to feel useful.

At the same time, trust your sense of the place. A group where one voice dominates, where people
are pushed to share, or where someone tells you to stop a treatment your doctor prescribed, is not
a good group for you, however welcoming it seems. There are others.

And if what you need right now is more than a group can offer, that is not a failure. Support
groups sit alongside professional care; they are not meant to hold everything on their own.
""",
    },
)

GROUPS = (
    {
        "slug": "riverside-anxiety-peer-circle",
        "name": "Riverside Anxiety Peer Circle",
        "description": (
            "A small, friendly peer group for adults living with anxiety or panic. We share how "
            "the week has gone and what has helped, at whatever pace suits each person."
        ),
        "purposes": ["anxiety", "panic"],
        "format": "in_person",
        "region": "North West England",
        "city": "Salford",
        "schedule": "Every Tuesday, 7–8.30pm",
        "language": "English",
        "run_by": "peer",
        "cost": "Free",
        "how_to_join": (
            "Email the organiser to say you are coming, or just turn up. The room is on the "
            "ground floor of the community centre and has step-free access."
        ),
        "contact": "riverside-circle@example.org",
        "meets": {"weekday": 1, "at": time(19, 0), "minutes": 90},
        "event_title": "Riverside Circle: weekly meeting",
        "event_location": "Quayside Community Centre, Room 2, Salford",
        "event_tz": "Europe/London",
    },
    {
        "slug": "evening-light-online",
        "name": "Evening Light: online depression support",
        "description": (
            "An online group for people living with depression or persistent low mood, hosted by "
            "a small charity. A trained volunteer facilitates; cameras are optional."
        ),
        "purposes": ["depression"],
        "format": "online",
        "region": "Online (UK and Ireland)",
        "city": "",
        "schedule": "Thursdays, 7.30–9pm UK time",
        "language": "English",
        "run_by": "organisation",
        "cost": "Free",
        "how_to_join": "Register by email; the call link is sent the day before each meeting.",
        "contact": "eveninglight@example.org",
        "meets": {"weekday": 3, "at": time(19, 30), "minutes": 90},
        "event_title": "Evening Light: Thursday meeting",
        "event_location": "",
        "event_tz": "Europe/London",
    },
    {
        "slug": "after-loss-parents-dublin",
        "name": "After Loss: bereaved parents",
        "description": (
            "For parents who have lost a child at any age, in any circumstances. Meetings are "
            "facilitated by an accredited bereavement counsellor, in a room and on a call at once."
        ),
        "purposes": ["bereavement", "child-loss"],
        "format": "hybrid",
        "region": "Leinster",
        "city": "Dublin",
        "schedule": "First Saturday of the month, 11am–12.30pm",
        "language": "English",
        "run_by": "professional",
        "cost": "Free; donations to the room hire welcome",
        "how_to_join": "Please phone or email first so the facilitator can have a short chat.",
        "contact": "afterloss@example.org",
        "meets": {"weekday": 5, "at": time(11, 0), "minutes": 90, "first_of_month": True},
        "event_title": "After Loss: monthly gathering",
        "event_location": "St Brigid's Parish Hall, Dublin 7 (and online)",
        "event_tz": "Europe/Dublin",
    },
    {
        "slug": "carers-coffee-morning-bristol",
        "name": "Carers' Coffee Morning",
        "description": (
            "An informal morning for anyone caring for a family member or friend with a mental "
            "illness. Part support group, part swapping notes on services and paperwork."
        ),
        "purposes": ["carers"],
        "format": "in_person",
        "region": "South West England",
        "city": "Bristol",
        "schedule": "Every other Wednesday, 10am–noon",
        "language": "English",
        "run_by": "peer",
        "cost": "£2 towards coffee, optional",
        "how_to_join": "Drop in. If you are bringing the person you care for, let us know first.",
        "contact": "carers-coffee@example.org",
        "meets": {"weekday": 2, "at": time(10, 0), "minutes": 120},
        "event_title": "Carers' Coffee Morning",
        "event_location": "The Old Library Café, Bristol",
        "event_tz": "Europe/London",
    },
)


@dataclass
class DemoLogin:
    role: str
    email: str
    created: bool
    password_matches: bool


@dataclass
class DemoReport:
    articles: int = 0
    topics: int = 0
    groups: int = 0
    events: int = 0
    logins: list[DemoLogin] = field(default_factory=list)


def _set(obj, **values) -> None:
    # Only assign what differs, so a rerun issues no UPDATE and `updated_at` stays put.
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)


def _next_meeting(now: datetime, spec: dict) -> tuple[datetime, datetime]:
    """The group's next meeting after `now` as (start, end) in UTC, from its local schedule."""
    meets = spec["meets"]
    try:
        zone = ZoneInfo(spec["event_tz"])
    except ZoneInfoNotFoundError:  # a system without time-zone data: UTC is close enough for demo
        zone = UTC
    day = now.astimezone(zone).date() + timedelta(days=2)  # never a meeting that starts today
    while day.weekday() != meets["weekday"] or (meets.get("first_of_month") and day.day > 7):
        day += timedelta(days=1)
    start = datetime.combine(day, meets["at"], tzinfo=zone).astimezone(UTC)
    return start, start + timedelta(minutes=meets["minutes"])


def load(session: Session, *, password: str = DEFAULT_PASSWORD, now: datetime | None = None):
    """Create whatever demo rows are missing and return a DemoReport. Flushes, never commits.

    Raises ValueError (AccountError) if `password` is too short for a staff account.
    """
    now = now or utcnow()
    report = DemoReport()

    for spec in TOPICS:
        topic = session.scalar(select(Topic).where(Topic.slug == spec["slug"]))
        if topic is None:
            topic = Topic(slug=spec["slug"])
            session.add(topic)
        _set(
            topic, name=spec["name"], description=spec["description"], is_default=spec["is_default"]
        )
        report.topics += 1

    for spec in ARTICLES:
        article = session.scalar(select(Article).where(Article.slug == spec["slug"]))
        if article is None:
            article = Article(
                slug=spec["slug"], published_at=now - timedelta(days=spec["days_ago"])
            )
            session.add(article)
        _set(article, title=spec["title"], summary=spec["summary"], body_markdown=spec["body"])
        report.articles += 1

    for spec in GROUPS:
        group = session.scalar(select(SupportGroup).where(SupportGroup.slug == spec["slug"]))
        starts_at, ends_at = _next_meeting(now, spec)
        if group is None:
            group = SupportGroup(
                slug=spec["slug"],
                status="approved",
                approved_at=now - timedelta(days=40),
                organiser_email=spec["contact"],
                organiser_confirmed_at=now - timedelta(days=41),
            )
            session.add(group)
        _set(
            group,
            **{
                key: spec[key]
                for key in (
                    "name", "description", "purposes", "format", "region", "city", "schedule",
                    "language", "run_by", "cost", "how_to_join", "contact",
                )
            },
        )  # fmt: skip
        _set(group, timezone=spec["event_tz"])  # purposes are slugs from community/purposes.py
        if group.next_meeting_at is None or group.next_meeting_at <= now:
            group.next_meeting_at = starts_at
        session.flush()
        report.groups += 1

        event_slug = f"{spec['slug']}-next-meeting"
        event = session.scalar(select(Event).where(Event.slug == event_slug))
        if event is None:
            event = Event(
                slug=event_slug,
                status="approved",
                approved_at=now - timedelta(days=2),
                organiser_email=spec["contact"],
                organiser_confirmed_at=now - timedelta(days=3),
                starts_at=starts_at,
                ends_at=ends_at,
            )
            session.add(event)
        elif event.starts_at <= now:
            # A demo loaded weeks ago has past events; move them forward so the site looks alive.
            event.starts_at, event.ends_at = starts_at, ends_at
        _set(
            event,
            group_id=group.id,
            title=spec["event_title"],
            description=spec["description"],
            timezone=spec["event_tz"],
            location=spec["event_location"],
            online_url="" if spec["format"] == "in_person" else "https://meet.example.org/demo",
        )
        report.events += 1

    for role, email, name in STAFF:
        user = session.scalar(select(User).where(User.email == email))
        created = user is None
        if created:
            user = accounts.create_user(session, email, password, role, name)
        report.logins.append(
            DemoLogin(
                role=role,
                email=email,
                created=created,
                password_matches=created or check_password_hash(user.password_hash, password),
            )
        )

    session.flush()
    return report


def demo_logins() -> list[tuple[str, str, str]]:
    """(role, email, password) of the demo staff, as `make run` prints them."""
    password = os.environ.get("ENGAGE_DEMO_PASSWORD") or DEFAULT_PASSWORD
    return [(role, email, password) for role, email, _name in STAFF]
