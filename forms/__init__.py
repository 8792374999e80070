"""Form definitions, validation and rendering data for BPMN user tasks.

Pure package: imports only marshmallow and the standard library.
See ``forms/README.md`` for the definition format.
"""

from .definition import (
    FIELD_TYPES,
    Choice,
    FieldDef,
    FormDefinition,
    FormDefinitionError,
    LegalHint,
    LocalText,
    VisibleIf,
    load_definition,
    load_directory,
)
from .render import (
    confirm_text,
    display_value,
    general_errors,
    instructions,
    legal_hint,
    render_fields,
    title,
)
from .schema import build_schema, from_form_mapping, validate_submission

__all__ = [
    "FIELD_TYPES",
    "Choice",
    "FieldDef",
    "FormDefinition",
    "FormDefinitionError",
    "LegalHint",
    "LocalText",
    "VisibleIf",
    "build_schema",
    "confirm_text",
    "display_value",
    "from_form_mapping",
    "general_errors",
    "instructions",
    "legal_hint",
    "load_definition",
    "load_directory",
    "render_fields",
    "title",
    "validate_submission",
]
