"""Request bodies that carry one JSON object, either as ``application/json`` or as a text part
of ``multipart/form-data`` beside evidence file parts (the incident door, verification reports)."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from api.services.errors import Invalid

M = TypeVar("M", bound=BaseModel)


def parse_json(model: type[M], raw: str | bytes, loc: tuple) -> M:
    """Validate JSON text as ``model``; field errors come back as a 422 located under ``loc``."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": [*loc, *e.get("loc", ())]} for e in exc.errors(include_url=False)]
        raise RequestValidationError(json.loads(json.dumps(errors, default=str))) from None


async def json_with_files(request: Request, model: type[M], json_part: str,
                          file_parts: tuple[str, ...]) -> tuple[M, dict[str, UploadFile]]:
    """The JSON object and the uploaded files (by part name) of a JSON or multipart request."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form(max_files=len(file_parts), max_fields=4)
        text = form.get(json_part)
        if not isinstance(text, str):
            raise RequestValidationError([{"loc": ["body", json_part], "msg": f"a text part `{json_part}` with the "
                                           "JSON object is required", "type": "missing"}])
        body = parse_json(model, text, ("body", json_part))
        uploads: dict[str, UploadFile] = {}
        for name, value in form.multi_items():
            if name in file_parts and isinstance(value, UploadFile):
                uploads[name] = value
            elif name != json_part:
                raise Invalid(("body", name), f"unexpected part {name!r}; parts: {json_part}, {', '.join(file_parts)}")
        return body, uploads
    if ctype.startswith("application/json") or not ctype:
        return parse_json(model, await request.body(), ("body",)), {}
    raise Invalid(("header", "content-type"), "send application/json or multipart/form-data")
