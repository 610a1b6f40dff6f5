"""serving.lambda_layer: the layer holds the handler's requirements and everything they need,
at the lock's versions, minus what Lambda's runtime provides; wheels for the runtime's glibc;
what the scorer never loads is pruned, only Arrow's own libraries stripped; zips are
deterministic; a layer over Lambda's limit is refused."""

import zipfile
from io import BytesIO

import pytest

from lakewatch.serving.lambda_layer import (
    STRIP,
    LayerTooLarge,
    check_fits,
    closure,
    lock_versions,
    platforms,
    pruned,
    zip_tree,
)


def test_the_closure_is_pinned_transitive_and_leaves_out_the_runtimes_packages(tmp_path):
    got = closure()
    pins = lock_versions()
    assert {"duckdb", "pyarrow", "numpy", "pydantic-core", "annotated-types", "wrapt"} <= set(got)
    assert all(got[name] == pins[name] for name in got)
    assert not {"boto3", "botocore", "jmespath", "urllib3"} & set(got)
    assert "torch" not in got and "scipy" not in got
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("aws-lambda-powertools\nnot-in-the-lock-anywhere\n")
    with pytest.raises(ValueError, match=r"not-in-the-lock-anywhere .* is not pinned"):
        closure(requirements)


def test_platform_tags_reach_down_from_the_runtimes_glibc():
    tags = platforms("aarch64", (2, 34))
    assert tags[0] == "manylinux_2_34_aarch64" and "manylinux_2_28_aarch64" in tags
    assert tags[-2:] == ["manylinux_2_17_aarch64", "manylinux2014_aarch64"]


@pytest.mark.parametrize(
    ("path", "gone"),
    [
        ("pyarrow/tests/test_io.py", True),
        ("numpy/_core/tests/test_api.py", True),
        ("pyarrow/include/arrow/api.h", True),
        ("pyarrow/lib.pyx", True),
        ("pyarrow/libarrow_flight.so.2500", True),
        ("pyarrow/_flight.cpython-312-x86_64-linux-gnu.so", True),
        ("jinja2/__pycache__/x.cpython-312.pyc", True),
        ("pyarrow/libarrow_substrait.so.2500", False),  # pyarrow.lib links it
        ("pyarrow/parquet/core.py", False),
        ("numpy/testing_helpers.py", False),
    ],
)
def test_what_is_pruned(path, gone):
    assert pruned(path) is gone


def test_only_arrows_own_libraries_are_stripped():
    assert STRIP.search("pyarrow/libarrow.so.2500")
    assert STRIP.search("pyarrow/libparquet.so.2500")
    assert not STRIP.search("numpy.libs/libscipy_openblas64_-32a4b2a6.so")
    assert not STRIP.search("pyarrow/lib.cpython-312-x86_64-linux-gnu.so")


def test_zips_are_deterministic_and_pruned(tmp_path):
    for name, body in {
        "pkg/__init__.py": b"x = 1\n",
        "pkg/tests/t.py": b"",
        "pkg/m.h": b"",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    first, size = zip_tree(tmp_path)
    (tmp_path / "pkg" / "__init__.py").touch()  # a new mtime changes nothing
    second, _ = zip_tree(tmp_path)
    assert first == second and size == 6
    with zipfile.ZipFile(BytesIO(first)) as zf:
        assert zf.namelist() == ["python/pkg/__init__.py"]
        assert zf.getinfo("python/pkg/__init__.py").date_time == (1980, 1, 1, 0, 0, 0)


def test_a_layer_over_the_limit_is_refused():
    check_fits(200 * 2**20, 1 * 2**20)
    with pytest.raises(LayerTooLarge, match="over Lambda's 250 MiB"):
        check_fits(249 * 2**20, 2 * 2**20)
