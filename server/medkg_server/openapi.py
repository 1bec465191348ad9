"""The OpenAPI 3 description of the HTTP interface, served at /openapi.yaml and /openapi.json.

The YAML file beside this module is the one source; the JSON form is converted on request (and
kept once read: the file changes only with the package).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from flask import Blueprint, Response

bp = Blueprint("openapi", __name__)
DESCRIPTION = Path(__file__).with_name("openapi.yaml")


@cache
def _yaml_text() -> str:
    return DESCRIPTION.read_text(encoding="utf-8")


@cache
def _json_text() -> str:
    import yaml  # only this route needs PyYAML

    return json.dumps(yaml.safe_load(_yaml_text()), indent=1) + "\n"


@bp.route("/openapi.yaml")
def openapi_yaml() -> Response:
    return Response(_yaml_text(), content_type="application/yaml; charset=utf-8")


@bp.route("/openapi.json")
def openapi_json() -> Response:
    return Response(_json_text(), content_type="application/json")
