"""Canonical URLs: one story, one URL, whatever tracking a feed or a share added."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameters that track a reader, not identify a page.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "mkt_tok",
        "_ga",
        "_gl",
        "_hsenc",
        "_hsmi",
        "cmpid",
        "cmp",
        "icid",
        "ocid",
        "ncid",
        "ito",
        "ref",
        "ref_src",
        "referrer",
        "smid",
        "sr_share",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "taid",
        "spm",
        "s_cid",
        "soc_src",
        "soc_trk",
        "rss",
        "feedtype",
        "outputtype",
        "partner",
        "cid",
        "campaign_id",
        "trk",
        "trkcampaign",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "vero_", "oly_", "at_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SLASHES = re.compile(r"/{2,}")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, no tracking parameters,
    the remaining parameters sorted; the path is kept as the site spells it."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    path = _SLASHES.sub("/", parts.path) or "/"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    )
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
