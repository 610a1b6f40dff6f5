"""scoring.errors: a DLQ reason keeps the error's own words within SQS's limit, cutting long keys
in the middle before anything else."""


def test_shorten_reason_cuts_the_start_only_when_nothing_else_is_long():
    from lakewatch.scoring.errors import shorten_reason

    assert shorten_reason("short") == "short"
    text = " ".join(["word"] * 400) + " the error itself"
    out = shorten_reason(text, 100)
    assert len(out) == 100 and out.endswith("the error itself")


def test_long_keys_are_cut_in_the_middle_and_the_error_kept_whole():
    from lakewatch.scoring.errors import shorten_reason

    key = "s3://lake/aws/VPC_FLOW/2.0/" + "x" * 300 + "/part-0001.parquet"
    reason = f"reading {key}: ArrowInvalid: Parquet magic bytes not found"
    out = shorten_reason(reason, 120)
    assert len(out) <= 120
    assert out.startswith("reading s3://lake/") and "\u2026" in out
    assert out.endswith("ArrowInvalid: Parquet magic bytes not found")
