"""The managed list of what a support group is for: conditions and life situations.

A constant, not a table: changing it is an editorial decision made in a reviewed commit, and
the slugs are stored on groups (and, for digests, on subscribers' interests), so a slug is
never renamed or reused. Add new entries; retire old ones by moving them to RETIRED.
"""

from __future__ import annotations

PURPOSES: tuple[tuple[str, str], ...] = (
    ("anxiety", "Anxiety"),
    ("panic", "Panic attacks"),
    ("depression", "Depression and low mood"),
    ("bipolar", "Bipolar disorder"),
    ("psychosis", "Psychosis and schizophrenia"),
    ("ocd", "Obsessive-compulsive disorder"),
    ("trauma", "Trauma and PTSD"),
    ("eating-disorders", "Eating disorders"),
    ("self-harm", "Self-harm"),
    ("addiction", "Addiction and recovery"),
    ("perinatal", "Pregnancy and new parents"),
    ("bereavement", "Bereavement"),
    ("suicide-bereavement", "Bereaved by suicide"),
    ("child-loss", "Losing a child"),
    ("carers", "Carers, family and friends"),
    ("loneliness", "Loneliness and isolation"),
    ("neurodivergence", "ADHD and autism"),
    ("lgbtq", "LGBTQ+ people"),
    ("young-people", "Young people"),
    ("men", "Men's mental health"),
)

#: Slugs no longer offered in forms, still understood when read from old rows.
RETIRED: dict[str, str] = {}

LABELS: dict[str, str] = {**RETIRED, **dict(PURPOSES)}
SLUGS: frozenset[str] = frozenset(slug for slug, _label in PURPOSES)


def label(slug: str) -> str:
    """The reader-facing label of a purpose slug (the slug itself if it is unknown)."""
    return LABELS.get(slug, slug)
