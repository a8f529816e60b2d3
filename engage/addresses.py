"""Email addresses as people type them: the one place an address is checked and normalised.

Every door an address comes in by (sign-up forms, the embeddable form, the subscribers API,
reply authors, organisers, staff accounts, test sends, the command line) goes through
`normalise_email`, so one rule holds everywhere.

RFC 2047 encoded words (`=?utf-8?q?victim?=@example.org`) are refused: the local part is
legal as typed, but Python's `email` package (and mail clients) decode it when the address
sits in a header, so it names another mailbox (`victim@example.org`). Even a literal SMTP
envelope is not safe: servers built on Python's parser (aiosmtpd among them) decode
`RCPT TO:<=?utf-8?q?victim?=@example.org>` the same way. Hundreds of spellings of one person
would each be a distinct row with a rate budget of its own. Rows stored before this rule are
left out of every audience (`without_encoded_words`) and `build_message` refuses them.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 254
# An encoded word starts with "=?" (RFC 2047 section 2); no real mailbox needs the pair.
ENCODED_WORD_START = "=?"


class InvalidAddress(ValueError):
    """The address cannot be used; the message is fit to show the person who typed it.

    `detail` is email-validator's own explanation when there is one ("An email address must
    have an @-sign."), for staff and the command line.
    """

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.detail = detail or message


def has_encoded_word(address: str) -> bool:
    """Whether `address` holds RFC 2047 syntax (`=?charset?q?text?=`), in any case."""
    return ENCODED_WORD_START in (address or "")


def normalise_email(raw: str | None) -> str:
    """The canonical form of an address (lower case, IDNA-normalised domain), or
    InvalidAddress with a message for the person. No DNS look-up."""
    if raw is None or not raw.strip():
        raise InvalidAddress("Please enter your email address.")
    raw = raw.strip()
    if len(raw) > MAX_EMAIL_LENGTH or any(c in raw for c in "\r\n\0"):
        raise InvalidAddress("That does not look like an email address.")
    if has_encoded_word(raw):
        raise InvalidAddress(
            "An email address cannot contain “=?”: mail programs read it as an encoded "
            "name, which can stand for a different address. Please type the address itself."
        )
    try:
        result = validate_email(raw, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidAddress(
            "That does not look like an email address. Please check it and try again.", str(exc)
        ) from None
    local, _, domain = result.normalized.rpartition("@")
    # Local parts are case-sensitive in theory and never in practice: one person, one row.
    return f"{local}@{domain}".lower()


def without_encoded_words(column):
    """SQL condition: the address in `column` holds no RFC 2047 syntax (for audiences, so a
    row stored before the rule gets no bulk mail)."""
    return ~column.contains(ENCODED_WORD_START, autoescape=True)
