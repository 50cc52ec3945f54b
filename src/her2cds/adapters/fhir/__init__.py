"""FHIR R4 adapters: a Bundle (or CDS Hooks prefetch resources) to a case, and an assessment to a Bundle.

::

    from her2cds.adapters.fhir import bundle_to_case, assessment_to_bundle
    conversion = bundle_to_case(bundle_json)          # .case, .warnings, .source_observations
    assessment = her2cds.assess(conversion.case)
    out = assessment_to_bundle(assessment, source_observations=conversion.source_observations)

Both directions are pure functions of parsed JSON (no I/O); the code table is data
(``knowledge/data/fhir/code_map.yaml``), documented in ``docs/fhir.md``.
"""

from her2cds.adapters.fhir.inbound import Conversion, bundle_to_case, resources_to_case
from her2cds.adapters.fhir.outbound import assessment_to_bundle

__all__ = ["Conversion", "assessment_to_bundle", "bundle_to_case", "resources_to_case"]
