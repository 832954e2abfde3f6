"""The OpenAPI schema, fuzzed: schemathesis generates valid and invalid requests for every
operation and sends them to a real server, without tokens and with an admin token. No answer
may be a 5xx, and every answer must match the schema (status, content type, headers, body).
Derandomized and bounded, so CI runs the same examples every time in well under a minute."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from qgjob.auth import tokens
from qgjob.auth.tokens import Role
from qgjob.store import open_store
from tests.conftest import LiveServer, fast_settings, serve

EXAMPLES_PER_OPERATION = 20
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]
FUZZ_REPORT = os.environ.get("QGJOB_FUZZ_REPORT") == "1"
FUZZ = settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
                database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", params=["no tokens", "admin token"])
def fuzzed_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("fuzz")
    config = fast_settings(folder, claim_wait_seconds=0.1, rate_limit_per_second=0,
                           agent_rate_limit_per_second=0,
                           database_url=f"sqlite:///{folder / 'fuzz.db'}?synchronous=normal")
    headers: dict[str, str] = {}
    if request.param == "admin token":
        store = open_store(config.database_url)
        record, text = tokens.issue(Role.ADMIN, None, 0.0)
        store.insert_token(record)
        store.close()
        headers = {"Authorization": f"Bearer {text}"}
    with serve(config) as live:
        yield live, headers


def operations(live: LiveServer) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    # Unknown query parameters are ignored, as HTTP servers do; the token is ours to send.
    schema.config.generation.update(allow_extra_parameters=False,
                                    with_security_parameters=False)
    # A body over the size cap is refused with 413 before anything reads it.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_matches_its_schema(fuzzed_server: tuple[LiveServer, dict[str, str]],
                                    mode: GenerationMode) -> None:
    live, headers = fuzzed_server
    failures: list[str] = []
    sent: list[int] = []
    found = operations(live)
    for operation in found:
        @given(case=operation.as_strategy(generation_mode=mode))
        @FUZZ
        def call(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS)
            sent.append(response.status_code)

        try:
            call()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as failure:  # report every operation's failure
            failures.append(f"{operation.label}: {str(failure)[:2000]}")
    assert len(found) >= 20 and len(sent) >= 5 * len(found)
    if FUZZ_REPORT:
        print(f"\n{mode.value}: {len(found)} operations, {len(sent)} requests, statuses "
              f"{dict(sorted(Counter(sent).items()))}")
    assert not failures, "\n\n".join(failures)
