"""Request and response bodies of the ticket API (pydantic), separate from the ORM models."""

from pydantic import ConfigDict


def examples(*bodies: dict) -> ConfigDict:
    """A request body's examples; the docs UI pre-fills the first, so it must work as it stands
    (real registry ids, meaningful notes: never a placeholder that fails or pollutes the history)."""
    return ConfigDict(json_schema_extra={"examples": list(bodies)})
