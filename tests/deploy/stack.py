"""deploy/lakewatch.yaml read as data, and just enough of CloudFormation's intrinsic functions
to resolve its policies and properties for given parameters (the tests compare them with what
lakewatch itself renders, and apply what moto's CloudFormation ignores)."""

from __future__ import annotations

import json
import re
from typing import Any

from cfnlint.decode import cfn_yaml

from tests.conftest import REPO

TEMPLATE = REPO / "deploy" / "lakewatch.yaml"
NO_VALUE = object()


def load() -> dict[str, Any]:
    """The template as plain dicts (``!Sub`` as ``{"Fn::Sub": ...}``)."""
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


class Resolver:
    """Resolves Ref, GetAtt, Sub, If, Join, Split, Select, FindInMap, Equals, Not for one set of
    parameter values; ``attributes`` gives each resource's Ref and attributes."""

    def __init__(self, template: dict[str, Any], values: dict[str, Any], attributes=None):
        self.template = template
        params = {k: p.get("Default") for k, p in template["Parameters"].items()}
        self.values = {**params, **values}
        self.attributes = attributes or {}

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        return self.attributes[name]["Ref"]

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def sub(self, text: str, extra: dict[str, Any]) -> str:
        def one(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name:
                resource, attr = name.split(".", 1)
                return str(self.attributes[resource][attr])
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            fn = getattr(self, "_" + key.replace("::", "_"), None)
            if fn is not None:
                return fn(arg)
        out = {k: self(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _Ref(self, arg):
        return self.ref(arg)

    def _Fn_GetAtt(self, arg):
        resource, attr = arg if isinstance(arg, list) else arg.split(".", 1)
        return self.attributes[resource][attr]

    def _Fn_Sub(self, arg):
        if isinstance(arg, str):
            return self.sub(arg, {})
        text, extra = arg
        return self.sub(text, {k: self(v) for k, v in extra.items()})

    def _Fn_If(self, arg):
        name, yes, no = arg
        return self(yes if self.condition(name) else no)

    def _Fn_Join(self, arg):
        return arg[0].join(self(arg[1]))

    def _Fn_Split(self, arg):
        return self(arg[1]).split(arg[0])

    def _Fn_Select(self, arg):
        return self(arg[1])[int(arg[0])]

    def _Fn_FindInMap(self, arg):
        name, key, value = (self(a) for a in arg)
        return self.template["Mappings"][name][key][value]

    def _Fn_Equals(self, arg):
        return self(arg[0]) == self(arg[1])

    def _Fn_Not(self, arg):
        return not self(arg[0])

    def _Condition(self, arg):
        return self.condition(arg)
