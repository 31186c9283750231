"""What the dashboard process needs to know, handed over by ``finsent dashboard``.

The dashboard imports ``storage`` only, so it does not read finsent's settings itself:
the command line reads and checks them once, then passes the plain values below to the
Streamlit process in one environment variable (JSON). Nothing else reads the
environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from dashboard.exceptions import DashboardError

#: The environment variable that carries the configuration to the Streamlit process.
RUNTIME_ENV = "FINSENT_DASHBOARD_RUNTIME"


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    database_url: str
    refresh_interval: float = 10.0
    password: str | None = None
    model_path: str | None = None
    model_device: str = "auto"
    model_variant: str = "auto"
    #: the user's companies file (FINSENT_PIPELINE_COMPANIES), read over the shipped
    #: registry for the companies' names
    companies_file: str | None = None
    connect_retries: int = 2
    connect_retry_delay: float = 0.5
    connect_timeout: float = 5.0
    pool_size: int = 5

    def to_environ(self) -> dict[str, str]:
        return {RUNTIME_ENV: json.dumps(asdict(self))}


def from_environ(environ: Mapping[str, str]) -> DashboardConfig:
    """The configuration ``finsent dashboard`` handed over, or a one-line error."""
    raw = environ.get(RUNTIME_ENV)
    if not raw:
        raise DashboardError(
            f"{RUNTIME_ENV} is not set: start the dashboard with `finsent dashboard`"
        )
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DashboardError(f"{RUNTIME_ENV} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("database_url"), str):
        raise DashboardError(f"{RUNTIME_ENV} must be a JSON object with a database_url")
    known = {f.name for f in fields(DashboardConfig)}
    try:
        return DashboardConfig(**{k: v for k, v in data.items() if k in known})
    except TypeError as e:
        raise DashboardError(f"{RUNTIME_ENV}: {e}") from None
