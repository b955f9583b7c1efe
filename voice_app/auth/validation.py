"""What an acceptable email, display name and password are, with the message a person reads.

Password rules follow NIST SP 800-63B: at least 8 characters, long passphrases and any
Unicode welcome (normalised with NFKC so the same phrase typed on another keyboard still
matches), no composition rules, a short blocklist of the most common passwords. The upper
bound only keeps hashing cost and request size bounded.

The API (pydantic models in ``models.py``) and the Reflex forms use these same functions, so
both say the same words.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, LiteralString

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 256
EMAIL_MAX_CHARS = 254
DISPLAY_NAME_MAX_CHARS = 80

_EMAIL_LOCAL_SYMBOLS = frozenset("!#$%&'*+-/=?^_`{|}~.")
# The most common passwords of 8+ characters in public breach corpora; NIST asks verifiers to
# refuse such values. A larger list can replace this one without changing any caller.
_COMMON_PASSWORDS = frozenset(
    [
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "qwerty123",
        "11111111",
        "00000000",
        "iloveyou",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "abcd1234",
        "1q2w3e4r",
        "aa123456",
        "passw0rd",
        "letmein1",
        "trustno1",
        "superman",
        "starwars",
    ]
)
COMMON_PASSWORDS = _COMMON_PASSWORDS
"""The refused passwords, for the JSON Schema of `voice_app.auth.models` to list."""


def _invalid(kind: LiteralString, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, "{message}", {"message": message})


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in text)


def normalize_email(email: str) -> str:
    """The form of an address that uniqueness is checked on: NFC, trimmed, lower-cased."""
    return unicodedata.normalize("NFC", email).strip().lower()


def check_email(email: str) -> str:
    """Return the trimmed address, or raise with what is wrong with it."""
    email = unicodedata.normalize("NFC", email).strip()
    if not email:
        raise _invalid("email_missing", "Enter your email address.")
    if len(email) > EMAIL_MAX_CHARS:
        raise _invalid("email_too_long", f"An email address has at most {EMAIL_MAX_CHARS} characters.")
    local, at, domain = email.rpartition("@")
    labels = domain.split(".")
    well_formed = (
        at
        and 0 < len(local) <= 64
        and all(char.isalnum() or char in _EMAIL_LOCAL_SYMBOLS for char in local)
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and len(labels) >= 2
        and all(
            0 < len(label) <= 63
            and all(char.isalnum() or char == "-" for char in label)
            and not label.startswith("-")
            and not label.endswith("-")
            for label in labels
        )
    )
    if not well_formed:
        raise _invalid("email_invalid", "Enter an email address like name@example.com.")
    return email


def check_login_email(email: str) -> str:
    """At login only presence and length are checked; a malformed address simply matches no one."""
    email = email.strip()
    if not email:
        raise _invalid("email_missing", "Enter your email address.")
    if len(email) > EMAIL_MAX_CHARS:
        raise _invalid("email_too_long", f"An email address has at most {EMAIL_MAX_CHARS} characters.")
    return email


def check_display_name(name: str) -> str:
    """Return the trimmed name, or raise with what is wrong with it (emoji and any script are fine)."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name:
        raise _invalid("display_name_missing", "Enter the name we should call you.")
    if len(name) > DISPLAY_NAME_MAX_CHARS:
        raise _invalid(
            "display_name_too_long", f"Use at most {DISPLAY_NAME_MAX_CHARS} characters for your name."
        )
    if _has_control_characters(name):
        raise _invalid("display_name_control", "Your name cannot contain line breaks or control characters.")
    return name


def normalize_password(password: str) -> str:
    """NFKC form of a password, hashed and verified in this form (NIST SP 800-63B 5.1.1.2)."""
    return unicodedata.normalize("NFKC", password)


def check_password_length(password: str) -> str:
    """Return the normalised password if its length is within bounds (the only rule at login)."""
    password = normalize_password(password)
    if not password:
        raise _invalid("password_missing", "Enter your password.")
    if len(password) > PASSWORD_MAX_CHARS:
        raise _invalid("password_too_long", f"Use at most {PASSWORD_MAX_CHARS} characters.")
    return password


def check_new_password(password: str) -> str:
    """Return the normalised password if it may be chosen, or raise with what is wrong."""
    password = check_password_length(password)
    if len(password) < PASSWORD_MIN_CHARS:
        raise _invalid(
            "password_too_short",
            f"Use at least {PASSWORD_MIN_CHARS} characters; a few words make a good passphrase.",
        )
    if _has_control_characters(password):
        raise _invalid("password_control", "A password cannot contain line breaks or control characters.")
    if password.lower() in _COMMON_PASSWORDS:
        raise _invalid("password_common", "This password is one of the most common ones; choose another.")
    return password


EmailAddress = Annotated[str, AfterValidator(check_email)]
LoginEmail = Annotated[str, AfterValidator(check_login_email)]
DisplayName = Annotated[str, AfterValidator(check_display_name)]
NewPassword = Annotated[str, AfterValidator(check_new_password)]
LoginPassword = Annotated[str, AfterValidator(check_password_length)]
