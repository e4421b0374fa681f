"""The password policy: long enough, not the username, not a password everyone tries first.

Length beats composition rules (NIST SP 800-63B): no "one digit, one symbol" demands, which push
people to `Password1!`; instead a minimum length and a refusal of known-common passwords and of
anything built from the username.
"""

from __future__ import annotations

import re

from app.i18n import N_
from app.services.errors import Message

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200

# The most used passwords of public breach corpora (their ≥ 10-character entries and the short
# classics that people pad to length), plus the obvious local ones. Compared case-insensitively
# after removing spaces; a password that is one of these with digits or symbols tacked on at the
# end is refused too.
_COMMON = """
123456789012 1234567890 0123456789 9876543210 1234512345 1122334455 1111111111 0000000000
1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx3edc qwertyuiop qwertyuiop123 asdfghjkl asdfghjkl123 zxcvbnm123
qwerty123456 qwerty12345 password password1 password12 password123 password1234 passw0rd
p@ssw0rd p@ssword p@ssword123 iloveyou iloveyou123 princess sunshine football baseball
superman batman trustno1 letmein letmein123 welcome welcome123 welcome1234 admin admin123
admin12345 administrator root toor changeme changeme123 default guest qwerty abc123 abcdef
abcdefghij abcd1234 abcde12345 aa12345678 a123456789 monkey dragon master shadow michael
jennifer jordan hunter ranger freedom whatever starwars computer internet secret secret123
pakistan pakistan123 pakistan786 pakistani karachi lahore islamabad peshawar khyber allah
allah786 bismillah bismillah786 786786786 786786 muhammad mohammad cricket cricket123
meezan meezan123 meezandemo meezan-demo government government123 health health123
performance appraisal myspace1 mypassword mypassword123 loveyou loveme lovely 11111111
12345678 123456789 123123123 12341234 123qwe123 qweasdzxc qazwsxedc zaq12wsx
"""
COMMON_PASSWORDS = frozenset(_COMMON.split())

_TRAILING_PADDING = re.compile(r"[\d\W_]+$")


def _normalised(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def problems(password: str, username: str | None = None) -> list[str]:
    """Why this password is refused (empty: acceptable), each reason a catalogue message (shown
    in the reader's language where a page shows it, English for the command line)."""
    found = []
    if len(password) < MIN_PASSWORD_LENGTH:
        found.append(Message(N_("A password has at least %(count)s characters."),
                             count=MIN_PASSWORD_LENGTH))
    if len(password) > MAX_PASSWORD_LENGTH:
        found.append(Message(N_("A password has at most %(count)s characters."),
                             count=MAX_PASSWORD_LENGTH))
    plain = _normalised(password)
    if username and len(username.strip()) >= 3 and _normalised(username) in plain:
        found.append(N_("A password may not contain the username."))
    stem = _TRAILING_PADDING.sub("", plain)
    if plain in COMMON_PASSWORDS or (len(stem) >= 4 and stem in COMMON_PASSWORDS):
        found.append(N_("That password is among the most commonly used ones; choose another."))
    elif len(set(plain)) <= 2:
        found.append(N_("A password needs more than one or two different characters."))
    return found
