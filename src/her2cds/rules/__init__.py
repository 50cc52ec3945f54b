"""The pure rules core: interpretation of IHC, ISH, NGS and plasma results per scoring system, the
specimen-level combination, patient-level integration and the testing advisor. No I/O."""
