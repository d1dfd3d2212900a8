"""Request and response bodies of the ticket API (pydantic), separate from the ORM models."""
