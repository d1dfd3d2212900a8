"""The OpenAPI document the docs UI shows: what the routes alone do not say.

* Bodies parsed by hand (JSON or multipart: the incident, the verification report) appear in
  the components.
* Every JSON request body gets its schema's first example as the media type's ``example``, which
  the docs UI pre-fills (without one it makes up ``"string"`` and ``0``, which fail or pollute the
  history). Routes that set their own example keep it.
* The dispatch example names a department of this deployment's registry (``configs/dispatch.yaml``).
* Images and other non-JSON answers say what they are: ``format: binary`` (``image/*``) or text.
"""

from __future__ import annotations

import copy

from fastapi import FastAPI


def document(app: FastAPI) -> None:
    """Wrap ``app.openapi`` (called once; the document is cached)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        _add_hand_parsed(components)
        gs = getattr(app.state, "gs", None)
        if gs is not None and "DispatchIn" in components:
            _dispatch_example(components["DispatchIn"], gs.rules)
        for path in schema.get("paths", {}).values():
            for op in path.values():
                _typed_media(op)
                media = op.get("requestBody", {}).get("content", {}).get("application/json")
                if media is not None and "example" not in media and "examples" not in media:
                    example = schema_example(media.get("schema", {}), components)
                    if example is not None:
                        media["example"] = copy.deepcopy(example)
        return schema

    app.openapi = openapi


def _typed_media(op: dict) -> None:
    for answer in op.get("responses", {}).values():
        for media_type, media in answer.get("content", {}).items():
            if not media.get("schema") and not media_type.endswith("json"):
                binary = media_type.startswith(("image/", "application/octet-stream"))
                media["schema"] = {"type": "string", "format": "binary"} if binary else {"type": "string"}


def _add_hand_parsed(components: dict) -> None:
    from api.schemas.incidents import IncidentIn

    doc = IncidentIn.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in doc.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components.setdefault("IncidentIn", doc)


def _dispatch_example(component: dict, rules) -> None:
    known = {d["id"] for d in rules.departments}
    for example in component.get("examples", []):
        if example.get("department_id") not in (None, *known) and rules.default_department:
            example["department_id"] = rules.default_department


def resolve(schema: dict, components: dict) -> dict:
    """``schema`` with a ``$ref`` (or an optional body's ``anyOf: [{$ref}, {type: null}]``) followed."""
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        schema = options[0]
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return components.get(ref.rsplit("/", 1)[1], {})
    return schema


def schema_example(schema: dict, components: dict):
    target = resolve(schema, components)
    examples = target.get("examples")
    return examples[0] if isinstance(examples, list) and examples else target.get("example")
