"""Settings are checked wherever they come from: a bad value is one line naming it, exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import annotated_types
import pytest
from typer.testing import CliRunner

from rag.errors import NewsragError, SettingsError
from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
Q = "What did Rhodes say about Ukraine?"


def run(*args: str):
    from newsrag.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def assert_usage_error(result, *lines: str) -> None:
    """Exit 2, stderr exactly ``Error: <line>`` per line, nothing raised, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [f"Error: {line}" for line in lines]
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


# --- the bounds ------------------------------------------------------------------------------------


def test_the_defaults_pass_their_own_checks():
    assert load_settings() == Settings()


def test_every_numeric_setting_has_a_range():
    bound_types = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)
    numeric = {name: f for name, f in Settings.model_fields.items() if f.annotation in (int, float)}
    assert {"chunk_size", "top_k", "port", "temperature", "support_threshold"} <= set(numeric)
    unbounded = [name for name, f in numeric.items() if not any(isinstance(m, bound_types) for m in f.metadata)]
    assert unbounded == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("chunk_size", "49", "must be at least 50"),
        ("chunk_overlap", "-1", "must be at least 0"),
        ("max_file_mb", "0", "must be more than 0"),
        ("top_k", "0", "must be at least 1"),
        ("fetch_k", "0", "must be at least 1"),
        ("context_chars", "-1", "must be at least 0"),
        ("min_relevance", "1.5", "must be between 0 and 1"),
        ("support_threshold", "-0.1", "must be between 0 and 1"),
        ("recency_tau_days", "0", "must be more than 0"),
        ("temperature", "-0.5", "must be at least 0"),
        ("n_ctx", "128", "must be at least 256"),
        ("n_threads", "0", "must be at least 1"),
        ("port", "70000", "must be between 1 and 65535"),
        ("chroma_port", "0", "must be between 1 and 65535"),
        ("max_upload_mb", "0", "must be at least 1"),
        ("port", "http", "must be a whole number, between 1 and 65535"),
        ("top_k", "2.5", "must be a whole number, at least 1"),
        ("llm", "gpt", "must be one of llamacpp, openai, extractive"),
    ],
)
def test_a_bad_environment_value_names_its_variable(monkeypatch, name, value, message):
    monkeypatch.setenv(f"NEWSRAG_{name.upper()}", value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == f"NEWSRAG_{name.upper()}={value}: {message}"


def test_the_edges_of_the_ranges_are_allowed(monkeypatch):
    for name, value in {"CHUNK_SIZE": "50", "CHUNK_OVERLAP": "0", "TOP_K": "1", "CONTEXT_CHARS": "0",
                        "MIN_RELEVANCE": "1", "PORT": "65535", "N_CTX": "256", "MAX_FILE_MB": "0.001"}.items():
        monkeypatch.setenv(f"NEWSRAG_{name}", value)
    s = load_settings()
    assert (s.chunk_size, s.top_k, s.port, s.max_file_mb) == (50, 1, 65535, 0.001)


@pytest.mark.parametrize("name", ["ab", "a" * 513, "news/../x", "-news", "news."])
def test_collection_names_chroma_refuses_are_refused(monkeypatch, name):
    monkeypatch.setenv("NEWSRAG_COLLECTION", name)
    with pytest.raises(SettingsError, match="^NEWSRAG_COLLECTION=.*: must be 3 to 512 characters"):
        load_settings()


def test_options_are_named_as_options_and_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("NEWSRAG_TOP_K", "0")
    assert load_settings(top_k=3).top_k == 3  # the option replaces the bad environment value
    with pytest.raises(SettingsError) as err:
        load_settings(llm="foo", chunk_size=10, store=None)  # None: option not given
    assert str(err.value).splitlines() == [
        "--chunk-size 10: must be at least 50",
        "NEWSRAG_TOP_K=0: must be at least 1",
        "--llm foo: must be one of llamacpp, openai, extractive",
    ]


def test_an_unknown_override_is_a_programming_error():
    with pytest.raises(TypeError, match="tok_k"):
        load_settings(tok_k=3)


# --- the login: both parts or neither ------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NEWSRAG_AUTH_USERNAME": "admin"}, "NEWSRAG_AUTH_USERNAME is set but NEWSRAG_AUTH_PASSWORD is not"),
        ({"NEWSRAG_AUTH_PASSWORD": "secret"}, "NEWSRAG_AUTH_PASSWORD is set but NEWSRAG_AUTH_USERNAME is not"),
        ({"NEWSRAG_AUTH_USERNAME": "admin", "NEWSRAG_AUTH_PASSWORD": ""},
         "NEWSRAG_AUTH_USERNAME is set but NEWSRAG_AUTH_PASSWORD is not"),
    ],
)
def test_half_a_login_is_refused(monkeypatch, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert str(err.value) == f"{message}: a login needs both (or neither)"
    assert "secret" not in str(err.value)


def test_a_whole_login_or_none_is_accepted(monkeypatch):
    assert load_settings().auth_username is None
    monkeypatch.setenv("NEWSRAG_AUTH_USERNAME", "admin")
    monkeypatch.setenv("NEWSRAG_AUTH_PASSWORD", "secret")
    assert (load_settings().auth_username, load_settings().auth_password) == ("admin", "secret")


# --- every command: one line per bad value, exit 2 ----------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "args", "message"),
    [
        ("NEWSRAG_CHUNK_SIZE", "0", ["ingest", "-q", SEEDS], "must be at least 50"),
        ("NEWSRAG_CHUNK_SIZE", "-100", ["ingest", "-q", SEEDS], "must be at least 50"),
        ("NEWSRAG_CHUNK_OVERLAP", "-3", ["ingest", "-q", SEEDS], "must be at least 0"),
        ("NEWSRAG_MAX_FILE_MB", "-1", ["ingest", "-q", SEEDS], "must be more than 0"),
        ("NEWSRAG_TOP_K", "0", ["ask", "--llm", "extractive", Q], "must be at least 1"),
        ("NEWSRAG_TOP_K", "-1", ["ask", "--llm", "extractive", Q], "must be at least 1"),
        ("NEWSRAG_CONTEXT_CHARS", "-5", ["ask", "--llm", "extractive", Q], "must be at least 0"),
        ("NEWSRAG_LLM", "foo", ["ask", Q], "must be one of llamacpp, openai, extractive"),
        ("NEWSRAG_PORT", "0", ["serve"], "must be between 1 and 65535"),
        ("NEWSRAG_N_CTX", "100", ["model", "status"], "must be at least 256"),
        ("NEWSRAG_N_THREADS", "0", ["model", "pull", "--quiet"], "must be at least 1"),
        ("NEWSRAG_TOP_K", "0", ["eval", "questions.jsonl", "--no-progress"], "must be at least 1"),
    ],
)
def test_each_command_names_a_bad_environment_value(monkeypatch, variable, value, args, message):
    monkeypatch.setenv(variable, value)
    assert_usage_error(run(*args), f"{variable}={value}: {message}")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["serve", "--llm", "foo"], "--llm foo: must be one of llamacpp, openai, extractive"),
        (["ask", "--llm", "foo", Q], "--llm foo: must be one of llamacpp, openai, extractive"),
        (["ask", "--top-k", "0", Q], "--top-k 0: must be at least 1"),
        (["eval", "questions.jsonl", "--llm", "foo"], "--llm foo: must be one of llamacpp, openai, extractive"),
        (["serve", "--port", "0"], "--port 0: must be between 1 and 65535"),
    ],
)
def test_each_command_names_a_bad_option(args, line):
    assert_usage_error(run(*args), line)


def test_every_bad_value_gets_its_own_line(monkeypatch):
    monkeypatch.setenv("NEWSRAG_TOP_K", "0")
    monkeypatch.setenv("NEWSRAG_CONTEXT_CHARS", "-5")
    assert_usage_error(
        run("ask", "--llm", "foo", Q),
        "NEWSRAG_TOP_K=0: must be at least 1",
        "NEWSRAG_CONTEXT_CHARS=-5: must be at least 0",
        "--llm foo: must be one of llamacpp, openai, extractive",
    )


def test_library_callers_get_a_settings_error(monkeypatch):
    import rag

    monkeypatch.setenv("NEWSRAG_TOP_K", "0")
    with pytest.raises(SettingsError, match="^NEWSRAG_TOP_K=0: must be at least 1$") as err:
        rag.ask(Q)
    assert isinstance(err.value, NewsragError)


def test_the_installed_command_prints_one_line(tmp_path):
    exe = Path(sys.executable).with_name("newsrag")
    env = dict(os.environ, NEWSRAG_STORE=str(tmp_path / "store"), NEWSRAG_CHUNK_SIZE="0")
    proc = subprocess.run([str(exe), "ingest", "-q", str(SEEDS)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "Error: NEWSRAG_CHUNK_SIZE=0: must be at least 50\n"
    assert not (tmp_path / "store").exists()
