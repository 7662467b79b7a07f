"""pydantic-core validation: no native threads (a control).

Threading model: none. `SchemaValidator.validate_python` (pydantic-core's src/validators,
Rust via PyO3, `#[pymodule(gil_used = false)]` in src/lib.rs) validates in the calling
thread and starts no thread of its own. Whatever this workload leaves behind is the
Python threads' own cost plus ordinary allocation by the calling threads: the baseline
against which the pooled packages' figures are read.

Read in: pydantic-core's src/lib.rs and python/pydantic_core/core_schema.py (of the
2.41.4 wheel: `typed_dict_schema`, `list_schema`).

Parameters (--workload-params): items=N (records per call, default 200).
"""

# requires: pydantic-core==2.41.4

from pydantic_core import SchemaValidator, core_schema

VALIDATOR = None
DATA = []


def setup(params):
    global VALIDATOR
    VALIDATOR = SchemaValidator(
        core_schema.list_schema(
            core_schema.typed_dict_schema(
                {
                    "id": core_schema.typed_dict_field(core_schema.int_schema()),
                    "name": core_schema.typed_dict_field(core_schema.str_schema()),
                    "tags": core_schema.typed_dict_field(core_schema.list_schema(core_schema.str_schema())),
                    "score": core_schema.typed_dict_field(core_schema.float_schema()),
                }
            )
        )
    )
    n = int(params.get("items", 200))
    DATA[:] = [
        {"id": str(i), "name": "item-%d" % i, "tags": ["a", "b", str(i % 7)], "score": "%d.5" % i}
        for i in range(n)
    ]


def call(rust_threads, worker_id, iteration):
    out = VALIDATOR.validate_python(DATA)
    return len(out)
