"""Credentials out of every message, whatever the shape of the URL that holds them.

Standard library only (the CLI's error path uses it before anything heavy is imported).

Two rules, applied to any text:

- **user:password@host**: in any run of non-blank characters holding an ``@``, the user info
  ends at the *last* ``@`` (a password may hold ``@``, ``:`` or ``/``); after an optional
  scheme (``postgresql://``, ``postgresql:/``, ``journal://`` or none at all), everything
  after the user name's ``:`` is the password.
- **key=value secrets**: ``password=``, ``sslpassword=``, ``passwd=``, ``pwd=``, ``secret=``,
  ``token=``, ``api_key=``, ``access_key=`` in a query string or a DSN, up to the next ``&``,
  ``;``, quote or blank.

Besides, the passwords of the storages this process opened (:func:`remember`) are replaced
wherever they appear alone (a driver may echo one without its URL), in every spelling a
driver might use (as written, decoded, percent-encoded).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

MASK = "***"

_SECRETS: set[str] = set()

_KEYS = r"(?:ssl)?pass(?:word|wd)?|pwd|secret|token|api[_-]?key|access[_-]?key"
_KEY_VALUE = re.compile(rf"(?i)(\b(?:{_KEYS})\s*=\s*)([^&;\s'\"]+)")
# a scheme with one slash or more: postgresql://, postgresql:/, sqlite:///, journal://
_SCHEME = re.compile(r"^[A-Za-z][\w+.-]*:/+")
_TOKEN = re.compile(r"\S*@\S*")
_OPENERS = "'\"`(<[{"


def _split_userinfo(userinfo: str) -> tuple[str, str, str | None]:
    """``(scheme prefix, user, password or None)`` of what precedes a URL's last ``@``."""
    prefix = ""
    if m := _SCHEME.match(userinfo):
        prefix, userinfo = m.group(0), userinfo[m.end():]
    elif userinfo.count(":") >= 2 and re.match(r"^[A-Za-z][\w+.-]*:", userinfo):
        # scheme:user:password@host (no slash after the scheme)
        cut = userinfo.index(":") + 1
        prefix, userinfo = userinfo[:cut], userinfo[cut:]
    if ":" not in userinfo:
        return prefix, userinfo, None
    user, password = userinfo.split(":", 1)
    return prefix, user, password or None


def _mask_userinfo(token: str) -> str:
    """``token`` with the password of its ``user:password@`` part (if any) masked."""
    lead = len(token) - len(token.lstrip(_OPENERS))
    head, body = token[:lead], token[lead:]
    at = body.rfind("@")
    prefix, user, password = _split_userinfo(body[:at])
    if password is None or password == MASK:
        return token
    return f"{head}{prefix}{user}:{MASK}{body[at:]}"


def _spellings(secret: str) -> set[str]:
    plain = unquote(secret)
    return {s for s in (secret, plain, quote(plain, safe=""), quote_plus(plain), quote(plain))
            if len(s) >= 2}  # fmt: skip


def secrets_of(url: str) -> set[str]:
    """The passwords in ``url`` (user info and query string), as written; may be empty."""
    found: set[str] = set()
    at = url.rfind("@")
    if at > 0 and (password := _split_userinfo(url[:at])[2]) is not None:
        found.add(password)
    try:
        query = urlsplit(url).query
    except ValueError:  # a malformed URL (unbalanced brackets): the regex below still runs
        query = ""
    for key, value in parse_qsl(query, keep_blank_values=False):
        if re.fullmatch(_KEYS, key, flags=re.IGNORECASE):
            found.add(value)
    found |= {m.group(2) for m in _KEY_VALUE.finditer(url)}
    return {s for s in found if s and s != MASK}


def remember(url: str) -> None:
    """Mask the passwords of ``url`` in every later message of this process too."""
    for secret in secrets_of(url):
        _SECRETS.update(_spellings(secret))


def redact(text: str, url: str | None = None) -> str:
    """``text`` with every credential masked as ``***`` (the rules above).

    Args:
        text: any message (a URL, a driver's error, a hint holding a command line).
        url: a URL whose passwords are also masked wherever they appear alone.
    """
    secrets = set(_SECRETS)
    if url is not None:
        for secret in secrets_of(url):
            secrets |= _spellings(secret)
    for s in sorted(secrets, key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(s, MASK)
    text = _KEY_VALUE.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN.sub(lambda m: _mask_userinfo(m.group(0)), text)
