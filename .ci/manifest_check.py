"""Validate rendered Kubernetes manifests: every object, built-in kinds and CRDs alike.

Built-in kinds go through `kubernetes-validate --strict` (the API's OpenAPI schemas,
unknown fields refused). kubernetes-validate has no schemas for custom resources and only
warns about them, so those kinds are validated here against prometheus-operator's CRD
models (cloudcoil-models-prometheus-operator, generated from the CRDs' OpenAPI schemas):
each object must parse, and dumping it back must give the object unchanged, so a
misspelt or unknown field (which the models would drop) fails too. Any other kind fails.
The PrometheusRule's groups are written out for `promtool check rules`.

Usage: manifest_check.py RENDERED.yaml RULES_OUT.yaml     (exit 0 ok, 1 failed)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from cloudcoil.models.prometheus_operator import v1 as monitoring

CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"),
                ("monitoring.coreos.com/v1", "PrometheusRule")}


def check_custom(document: dict[str, Any]) -> list[str]:
    model = getattr(monitoring, document["kind"])
    try:
        parsed = model.model_validate(document)
    except ValueError as error:
        return [f"{document['kind']}/{document['metadata']['name']}: {error}"]
    if parsed.model_dump(by_alias=True, exclude_none=True, mode="json") != document:
        return [f"{document['kind']}/{document['metadata']['name']}: fields the CRD does not "
                "define (compare with the prometheus-operator API)"]
    return []


def main(rendered: Path, rules_out: Path) -> int:
    documents = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    problems: list[str] = []
    builtin = [d for d in documents if (d["apiVersion"], d["kind"]) not in CUSTOM_KINDS]
    custom = [d for d in documents if (d["apiVersion"], d["kind"]) in CUSTOM_KINDS]
    builtin_file = rendered.with_suffix(".builtin.yaml")
    builtin_file.write_text(yaml.safe_dump_all(builtin))
    validated = subprocess.run(
        [str(Path(sys.executable).with_name("kubernetes-validate")), "--strict", "--quiet",
         str(builtin_file)],
        capture_output=True, text=True,
    )
    output = (validated.stdout + validated.stderr).strip()
    # A kind without a schema is only a warning there; here it is a failure.
    if validated.returncode != 0 or output:
        problems.append(f"kubernetes-validate: {output or validated.returncode}")
    for document in custom:
        problems += check_custom(document)
    groups = [g for d in custom if d["kind"] == "PrometheusRule" for g in d["spec"]["groups"]]
    rules_out.write_text(yaml.safe_dump({"groups": groups}))
    for problem in problems:
        print(f"{rendered}: {problem}", file=sys.stderr)
    kinds = sorted({d["kind"] for d in documents})
    print(f"{rendered.name}: {len(documents)} objects valid ({', '.join(kinds)})"
          if not problems else f"{rendered.name}: INVALID")
    return 1 if problems or not groups else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
