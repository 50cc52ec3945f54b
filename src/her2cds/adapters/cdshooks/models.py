"""The CDS Hooks 2.0 wire format as pydantic models.

Responses are serialised with ``exclude_none`` because the specification forbids null and empty optional
fields ("implementers MUST omit it"). Requests accept the reserved ``extension`` member; other unknown
top-level members are rejected, naming the field.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NonEmpty = Annotated[str, Field(min_length=1)]

#: The request ``extension`` member that picks the regulatory region of the cards (docs/service.md), as the
#: API's ``region=`` parameter: ``us`` (default, FDA) or ``eu`` (European Commission decisions).
REGION_EXTENSION = "org.her2cds.region"
_REGIONS = ("us", "eu")


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


# ---- requests --------------------------------------------------------------------------------------------
class FhirAuthorization(BaseModel):
    """OAuth 2.0 bearer token for the CDS client's FHIR server. EHRs add SMART launch members
    (e.g. ``patient``), so unknown members are ignored here."""

    model_config = ConfigDict(extra="ignore")

    access_token: NonEmpty
    token_type: Literal["Bearer", "bearer"]
    expires_in: int
    scope: str
    subject: str


class CdsRequest(_Wire):
    hook: NonEmpty
    hookInstance: NonEmpty  # noqa: N815 - the specification's member name
    fhirServer: str | None = None  # noqa: N815
    fhirAuthorization: FhirAuthorization | None = None  # noqa: N815
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None

    @field_validator("fhirServer")
    @classmethod
    def _server_is_a_base_url(cls, value: str | None) -> str | None:
        if value is not None:
            from her2cds.adapters.cdshooks.origin import BadServerUrlError, parse_server_url

            try:
                parse_server_url(value)
            except BadServerUrlError as exc:
                raise ValueError(f"not an acceptable FHIR server URL: {exc}") from None
        return value

    @model_validator(mode="after")
    def _authorization_needs_server(self) -> Self:
        if self.fhirAuthorization is not None and not self.fhirServer:
            raise ValueError("fhirAuthorization is given, so fhirServer is required")
        return self

    @field_validator("extension")
    @classmethod
    def _known_region(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and REGION_EXTENSION in value and value[REGION_EXTENSION] not in _REGIONS:
            raise ValueError(
                f"extension {REGION_EXTENSION!r} must be one of {', '.join(_REGIONS)}, not {value[REGION_EXTENSION]!r}"
            )
        return value

    @property
    def region(self) -> Literal["us", "eu"] | None:
        """The region asked for with the ``org.her2cds.region`` extension (None: the default, US)."""
        value = (self.extension or {}).get(REGION_EXTENSION)
        return "eu" if value == "eu" else "us" if value == "us" else None


# ---- responses -------------------------------------------------------------------------------------------
class Coding(_Wire):
    system: str | None = None
    code: NonEmpty
    display: str | None = None


class OverrideReason(Coding):
    display: NonEmpty  # required by the specification for override reasons


class Source(_Wire):
    label: NonEmpty
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(_Wire):
    type: Literal["create", "update", "delete"]
    description: NonEmpty
    resource: dict[str, Any] | None = None
    resourceId: str | None = None  # noqa: N815

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if self.type in ("create", "update") and self.resource is None:
            raise ValueError(f"a {self.type} action needs a resource")
        if self.type == "delete" and (self.resourceId is None or self.resource is not None):
            raise ValueError("a delete action needs resourceId and no resource")
        return self


class Suggestion(_Wire):
    label: NonEmpty
    uuid: str | None = None
    isRecommended: bool | None = None  # noqa: N815
    actions: list[Action] | None = None


class Link(_Wire):
    label: NonEmpty
    url: NonEmpty
    type: Literal["absolute", "smart"]
    appContext: str | None = None  # noqa: N815

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Self:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only valid on smart links")
        return self


class Card(_Wire):
    uuid: str | None = None
    summary: Annotated[str, Field(min_length=1, max_length=139)]
    detail: str | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    suggestions: list[Suggestion] | None = None
    selectionBehavior: Literal["at-most-one", "any"] | None = None  # noqa: N815
    overrideReasons: list[OverrideReason] | None = None  # noqa: N815
    links: list[Link] | None = None

    @model_validator(mode="after")
    def _conditional(self) -> Self:
        if self.suggestions and self.selectionBehavior is None:
            raise ValueError("cards with suggestions need selectionBehavior")
        for name in ("suggestions", "overrideReasons", "links"):
            if getattr(self, name) == []:
                raise ValueError(f"{name} must be omitted rather than empty")
        return self


class CdsResponse(_Wire):
    cards: list[Card]
    systemActions: list[Action] | None = None  # noqa: N815


class ServiceDefinition(_Wire):
    hook: NonEmpty
    title: str | None = None
    description: NonEmpty
    id: NonEmpty
    prefetch: dict[str, str] | None = None
    usageRequirements: str | None = None  # noqa: N815


class Discovery(_Wire):
    services: list[ServiceDefinition]


# ---- feedback --------------------------------------------------------------------------------------------
class AcceptedSuggestion(_Wire):
    id: NonEmpty


class FeedbackOverrideReason(_Wire):
    reason: Coding | None = None
    userComment: str | None = None  # noqa: N815


class Feedback(_Wire):
    card: NonEmpty
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[AcceptedSuggestion] | None = None  # noqa: N815
    overrideReason: FeedbackOverrideReason | None = None  # noqa: N815
    outcomeTimestamp: dt.datetime  # noqa: N815

    @model_validator(mode="after")
    def _accepted_needs_suggestions(self) -> Self:
        if self.outcome == "accepted" and not self.acceptedSuggestions:
            raise ValueError("an accepted outcome needs acceptedSuggestions")
        return self


class FeedbackRequest(_Wire):
    feedback: Annotated[list[Feedback], Field(min_length=1, max_length=1000)]
