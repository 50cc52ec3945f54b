"""The HTTP service: REST API (``/v1``), CDS Hooks 2.0 (``/cds-services``) and FHIR R4 in and out.

``create_app(settings)`` builds an application (no module-level app); ``run(host, port, settings)`` serves it
with uvicorn (``her2cds serve``).
"""

from her2cds.adapters.api.app import create_app
from her2cds.adapters.api.server import run
from her2cds.adapters.api.settings import Settings

__all__ = ["Settings", "create_app", "run"]
