"""Running the service with uvicorn (``her2cds serve``)."""

from __future__ import annotations

import ipaddress
import logging
import logging.config
from typing import Any

from her2cds.adapters.api.settings import Settings

log = logging.getLogger("her2cds.api")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def log_config(level: str) -> dict[str, Any]:
    """Logging for the server: our loggers at ``level``; uvicorn's access log off (ours logs route templates
    only); HTTP client request lines (URLs carry patient ids) kept below INFO."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
        "loggers": {
            "her2cds": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "httpx": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "httpcore": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }


def run(host: str = "127.0.0.1", port: int = 8080, settings: Settings | None = None) -> None:
    """Serve the API on ``host:port`` until interrupted (loopback by default)."""
    import uvicorn

    from her2cds.adapters.api.app import create_app

    settings = settings or Settings()
    logging.config.dictConfig(log_config(settings.log_level))
    if not is_loopback(host):
        if settings.api_token is None:
            log.warning("serving on %s without HER2CDS_API_TOKEN: /v1 is open to the network", host)
        if settings.cds_jwks_file is None:
            log.warning("serving on %s without HER2CDS_CDS_JWKS_FILE: CDS Hooks callers are not authenticated", host)
    app = create_app(settings, loopback=is_loopback(host))
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=log_config(settings.log_level),
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
