"""``lstmkit serve`` option mistakes: one ``error: ...`` line, exit 2, no traceback, before anything
is loaded."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cli_checks import fails as cli_fails
from serve_support import saved_model, token_file
from typer.testing import CliRunner

from lstmkit.cli import app
from lstmkit.errors import ConfigError
from lstmkit.serve.server import check_options, is_loopback, read_token

runner = CliRunner()


def fails(args: list[str], *needles: str) -> str:
    return cli_fails(["serve", *args], *needles)


@pytest.fixture
def model_path(tmp_path) -> Path:
    return saved_model(tmp_path)[1]


def test_no_token_and_no_no_auth(model_path):
    fails([str(model_path)], "--token-file FILE", "--no-auth")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::", "example.org"])
def test_no_auth_only_on_a_loopback_host(model_path, host):
    fails([str(model_path), "--no-auth", "--host", host], "--no-auth: only allowed on a loopback address", host)


def test_token_file_missing_empty_or_not_one_word(model_path, tmp_path):
    fails([str(model_path), "--token-file", str(tmp_path / "nope")], "--token-file: file not found")
    empty = tmp_path / "empty"
    empty.write_text("  \n")
    fails([str(model_path), "--token-file", str(empty)], "the file is empty")
    two = tmp_path / "two"
    two.write_text("two words\n")
    fails([str(model_path), "--token-file", str(two)], "one word")
    fails([str(model_path), "--token-file", str(tmp_path)], "not a file")
    fails([str(model_path), "--token-file", str(token_file(tmp_path)), "--no-auth"], "not both")


@pytest.mark.parametrize("args,needle", [
    (["--port", "70000"], "--port: expected 0-65535"),
    (["--max-events", "0"], "--max-events"),
    (["--max-body-bytes", "10"], "--max-body-bytes"),
    (["--max-batch-delay-ms", "-1"], "--max-batch-delay-ms"),
    (["--ttl", "0"], "--ttl"),
    (["--max-streams", "0"], "--max-streams"),
    (["--log-level", "loud"], "--log-level: expected one of"),
])
def test_bad_option_values(model_path, args, needle):
    fails([str(model_path), "--no-auth", *args], needle)


def test_missing_model_and_a_port_in_use(model_path, tmp_path):
    fails([str(tmp_path / "missing.lstmkit"), "--no-auth"], "model file not found")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        fails([str(model_path), "--no-auth", "--port", str(port)], f"--port {port}: cannot listen there")


def test_a_real_process_says_one_line():
    out = subprocess.run([sys.executable, "-m", "lstmkit", "serve", "model.lstmkit", "--no-auth", "--host", "0.0.0.0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "error: --no-auth: only allowed on a loopback address (127.0.0.1, ::1, localhost), found --host 0.0.0.0; "
        "give --token-file FILE to serve on 0.0.0.0"]


def test_loopback_hosts(tmp_path):
    for host in ("127.0.0.1", "127.0.0.9", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "192.168.1.1", "example.org", ""):
        assert not is_loopback(host), host
    opts = dict(port=0, max_streams=None, ttl=None, max_batch_delay_ms=2.0, max_body_bytes=1 << 20, max_events=4096,
                log_level="info", graceful_timeout=5.0)
    assert check_options(host="::1", token_file=None, no_auth=True, **opts) is None
    assert check_options(host="0.0.0.0", token_file=token_file(tmp_path), no_auth=False, **opts) == read_token(
        token_file(tmp_path))
    with pytest.raises(ConfigError):
        check_options(host="0.0.0.0", token_file=None, no_auth=True, **opts)
