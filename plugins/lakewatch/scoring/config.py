"""The scorer's configuration: what the function reads from its environment.

Defined once, here. A deploy builds it from lakewatch's ``Settings``
(``serving.lambda_config``), writes it as the function's environment (``to_env``) and the
handler reads it back (``from_env``), validated where it is read: a missing variable or a bad
number is an error that names the variable. The variables are ``LAKEWATCH_<FIELD>`` (the names
``Settings`` reads too), except ``topic_arn``'s, ``LAKEWATCH_FINDINGS_TOPIC_ARN``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakewatch.extract.export import PairSet

ENV_PREFIX = "LAKEWATCH_"
# Lambda's own variable: the function's memory (MB); the default budget is this share of it
# (the rest is the runtime's, and the margin between a check and the next allocation)
FUNCTION_MEMORY = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"
BUDGET_SHARE = 0.85


# the one variable not named LAKEWATCH_<FIELD>: the alerts topic Settings calls findings_topic_arn
NAMED = {"topic_arn": f"{ENV_PREFIX}FINDINGS_TOPIC_ARN"}


class ScorerConfig(BaseModel):
    """Where the scorer reads and writes, and the queue's retry limit it dead-letters at.

    A plain model, not a settings class: built from keywords it reads nothing else (a deploy's
    own environment never leaks into the function's), and from a function's environment only
    through ``from_env``."""

    model_config = ConfigDict(frozen=True)

    endpoint_name: str
    threshold_parameter: str
    results_bucket: str
    # Security Lake's bucket (lakewatch's ``Settings.lake_bucket_name``): the one bucket the
    # scorer reads objects from, besides the canary's in ``results_bucket``; "" reads none
    lake_bucket: str = ""
    region: str = "us-east-1"
    pairs: str = PairSet().key
    findings_prefix: str = "ext/lakewatch/"
    feedback_prefix: str = "feedback/"
    models_prefix: str = "models/"
    canary_prefix: str = "canary/"
    dlq_url: str = ""
    topic_arn: str = ""  # the alerts topic (LAKEWATCH_FINDINGS_TOPIC_ARN)
    # import each finding into Security Hub once it is stored (``aws.securityhub``), as the
    # custom integration of ``account_id`` (the function's own account; "" asks STS)
    security_hub_findings: bool = False
    account_id: str = Field("", pattern=r"^(\d{12})?$")
    # the EventBridge bus each unusual sign-in is put on as a step-up event once the findings
    # are stored (``scoring.signin_findings.step_up_entry``); "" puts none
    step_up_event_bus: str = Field("", pattern=r"^[A-Za-z0-9._/-]{0,256}$")
    threshold_ttl_s: float = Field(60.0, ge=0)
    # the Random Cut Forest endpoint a VPC Flow object's whole instance-hours are scored by
    # (``scoring.rcf_scoring``), against the threshold at ``threshold_parameter`` + "-rcf";
    # "" scores none
    rcf_endpoint_name: str = ""
    # the queue's redrive maxReceiveCount; 0: leave it to the queue
    max_receive_count: int = Field(0, ge=0)
    # the peak memory (MB) one object may take; an object that needs more is dead-lettered
    # with the reason. 0: BUDGET_SHARE of the function's memory where ``from_env`` sees it
    # (Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE), else no budget
    memory_budget_mb: int = Field(0, ge=0)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Each field's environment variable, by field name."""
        return {name: NAMED.get(name, f"{ENV_PREFIX}{name.upper()}") for name in cls.model_fields}

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ScorerConfig:
        """The configuration in ``env`` (a function's environment) and nowhere else; empty
        variables count as unset, and without ``LAKEWATCH_REGION`` the region is Lambda's
        ``AWS_REGION``. Without ``LAKEWATCH_MEMORY_BUDGET_MB``, the budget is
        ``BUDGET_SHARE`` of the function's memory, when ``env`` names it."""
        names = cls.variables()
        values = {name: env[var] for name, var in names.items() if env.get(var)}
        if "region" not in values and env.get("AWS_REGION"):  # Lambda's own: where it runs
            values["region"] = env["AWS_REGION"]
        try:
            config = cls.model_validate(values)
        except ValidationError as err:
            raise ValueError(_explained(err, cls.variables(), env)) from None
        function_mb = env.get(FUNCTION_MEMORY, "")
        if not config.memory_budget_mb and function_mb.isdigit():
            budget = int(int(function_mb) * BUDGET_SHARE)
            config = config.model_copy(update={"memory_budget_mb": budget})
        return config

    def to_env(self) -> dict[str, str]:
        """The function's environment: the variables whose values are set (not empty or 0)."""
        return {
            var: str(getattr(self, name))
            for name, var in self.variables().items()
            if getattr(self, name) not in ("", None, 0)
        }

    def last_attempt(self, receive_count: int) -> bool:
        """True when the queue would dead-letter the message rather than deliver it again."""
        return 0 < self.max_receive_count <= receive_count


def _explained(err: ValidationError, names: dict[str, str], env: Mapping[str, str]) -> str:
    """A validation error in the variables' words: which are missing, which are not numbers."""
    missing = [names[str(e["loc"][0])] for e in err.errors() if e["type"] == "missing"]
    if missing:
        return f"scorer configuration is missing {', '.join(missing)}"
    problems = []
    for e in err.errors():
        var = names.get(str(e["loc"][0]), str(e["loc"][0]))
        value = env.get(var)
        if e["type"] in ("float_parsing", "int_parsing", "int_from_float"):
            problems.append(f"{var}={value!r} is not a number")
        else:
            problems.append(f"{var}={value!r}: {e['msg']}")
    return "; ".join(problems)
