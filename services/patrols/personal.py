"""Personal data in community checks, minimised: a resident identity number is checked and then
kept only as a keyed hash (to match the same person across checks) and a masked form (to show);
names and phone numbers are shown masked except to supervisors who give a purpose."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

# GB 11643-1999: 17 digits, then a check character from the weighted sum mod 11.
ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _resident_id(value: str) -> str:
    """An 18-character resident identity number whose check character is right."""
    if not ID_PATTERN.fullmatch(value):
        raise ValueError(
            "must be an 18-character resident identity number (17 digits, then 0-9 or X)"
        )
    if id_check_character(value[:17]) != value[17]:
        raise ValueError("the check character (the last one) does not match: mistyped?")
    return value


def id_check_character(first17: str) -> str:
    """The check character GB 11643 gives the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


# Never logged, stored or published as it is: hash_id and mask_id are all that is kept.
ResidentId = Annotated[str, BeforeValidator(_upper), AfterValidator(_resident_id)]


def hash_id(key: bytes, id_number: str) -> str:
    """The keyed hash (HMAC-SHA256) identity numbers are matched by: without the key, no list
    of candidate numbers can be hashed to find one."""
    return hmac.new(key, f"resident-id:{id_number}".encode(), hashlib.sha256).hexdigest()


def mask_id(id_number: str) -> str:
    """The first three and the last four characters: enough to tell two people apart."""
    return id_number[:3] + "*" * (len(id_number) - 7) + id_number[-4:]


def mask_name(name: str) -> str:
    """The first character (the family name, mostly) and a star for each other."""
    return name[:1] + "*" * max(1, len(name) - 1)


def mask_phone(phone: str) -> str:
    """The first three and the last four digits of a number long enough to hide some."""
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def keyed_digest(key: bytes, text: str) -> str:
    """A digest of a request that holds personal data (to tell a retry from another request)
    that no one without the key can test guesses against."""
    return hmac.new(key, f"request:{text}".encode(), hashlib.sha256).hexdigest()
