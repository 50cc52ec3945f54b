"""HL7 CDS Hooks 2.0 adapter: discovery document, prefetch resolution, card builders, client JWT verification
and the feedback store. Framework-free; the HTTP routes live in :mod:`her2cds.adapters.api.routers.cdshooks`.
"""
