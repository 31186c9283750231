"""Bearer tokens: which a request may carry, and where the API may serve without one."""

from __future__ import annotations

import hmac
import ipaddress


def parse_tokens(raw: str | None) -> tuple[str, ...]:
    """The tokens of a comma-separated setting (several: one can be rotated without a
    gap); blanks around them and empty entries are dropped."""
    return tuple(t for t in (part.strip() for part in (raw or "").split(",")) if t)


def token_accepted(given: str, tokens: tuple[str, ...]) -> bool:
    """Whether ``given`` is one of ``tokens``. Every token is compared, each in constant
    time, so the answer's timing says nothing about which or how much matched."""
    offered = given.encode()
    matches = [hmac.compare_digest(offered, token.encode()) for token in tokens]
    return any(matches)


def is_loopback(host: str) -> bool:
    """Whether listening on ``host`` keeps the API to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name other than localhost may resolve anywhere
        return False
