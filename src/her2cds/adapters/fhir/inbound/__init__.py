"""FHIR R4 in: a Bundle (or CDS Hooks prefetch resources) -> a her2cds case.

Read: Patient, Condition, Specimen, Observation, DiagnosticReport (its specimen link), MedicationStatement,
MedicationRequest, MedicationAdministration and Medication. Observations are grouped into specimens by
``Observation.specimen`` (or the specimen of the DiagnosticReport listing them), else by effective date, else
into one default specimen. Every resource, code or value that cannot be used becomes an ``InputWarning``
naming the resource and the field; nothing is dropped silently. See ``docs/fhir.md``.

The functions are pure: they take parsed JSON and return a :class:`Conversion`; they raise
:class:`~her2cds.errors.InvalidInputError` only when no case can be built at all (not a Bundle, several
patients, no tumor type).

Modules, by what they read: ``bundle`` (walking and indexing the input, the patient), ``conditions``
(tumor type and setting), ``observations`` (HER2 results) with ``genomics`` and ``biomarkers``, ``specimens``
(specimen groups -> case specimens), ``history`` (medications), ``convert`` (the whole conversion).
"""

from her2cds.adapters.fhir.inbound.convert import Conversion, bundle_to_case, resources_to_case

__all__ = ["Conversion", "bundle_to_case", "resources_to_case"]
