"""schemathesis fuzzes the OpenAPI schema against the app in process, with every default check
(no 5xx, documented status codes and content types, answers matching their schemas, schema-valid
requests accepted and invalid ones refused), for a vector model and a token model."""

from __future__ import annotations

import warnings

import pytest
import schemathesis
import torch
from hypothesis import HealthCheck, settings
from serve_support import AUTH, TOKEN, tiny_model

from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.models import Sequential
from lstmkit.serve import create_app
from lstmkit.stream.engine import StreamEngine


def _token_model() -> Sequential:
    torch.manual_seed(0)
    return Sequential([Embedding(30, 4, mask_zero=True), LSTM(5), Dense(3)])


with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*httpx.*", category=UserWarning)
    vector_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(
        StreamEngine(tiny_model(), "memory://", max_streams=50), token=TOKEN, max_events=64, max_body_bytes=16384))
    token_schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(
        StreamEngine(_token_model(), "memory://"), token=TOKEN, max_events=64, max_body_bytes=16384))

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.filterwarnings("ignore::UserWarning")
@vector_schema.parametrize()
@SETTINGS
def test_vector_model_api(case):
    case.call_and_validate(headers=AUTH)


@pytest.mark.filterwarnings("ignore::UserWarning")
@token_schema.parametrize()
@SETTINGS
def test_token_model_api(case):
    case.call_and_validate(headers=AUTH)
