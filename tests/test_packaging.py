"""What a user installs: every package ships, and the default cascade is found from a wheel."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]


def _listed_packages() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_package_under_studio_is_listed_for_the_wheel():
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "studio").rglob("__init__.py")}
    assert found <= _listed_packages(), f"add to pyproject's packages: {sorted(found - _listed_packages())}"


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out)], check=True, capture_output=True)
    (wheel,) = out.glob("*.whl")
    folder = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(folder)
    return folder


def test_the_wheel_carries_py_typed_and_the_resources(unpacked_wheel):
    assert (unpacked_wheel / "studio" / "py.typed").is_file()
    assert (unpacked_wheel / "studio" / "resources" / "icons" / "studio.png").is_file()


def test_the_default_model_is_found_inside_an_installed_wheel(unpacked_wheel, tmp_path):
    code = "from studio.core.paths import default_model_path as d; print(d())"
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(unpacked_wheel), "PATH": "/usr/bin:/bin"})
    path = Path(run.stdout.strip())
    assert path == unpacked_wheel / "studio" / "resources" / "models" / "default"
    shipped = ROOT / "resources" / "models" / "default"
    assert sorted(p.name for p in path.iterdir()) == sorted(p.name for p in shipped.iterdir())
    assert (path / "base.safetensors").read_bytes() == (shipped / "base.safetensors").read_bytes()
    starter, shipped_starter = path.parent / "cpu-starter", shipped.parent / "cpu-starter"  # shipped beside it
    assert sorted(p.name for p in starter.iterdir()) == sorted(p.name for p in shipped_starter.iterdir())


def test_the_wheel_carries_clips_merges_with_their_licence(unpacked_wheel):
    folder = unpacked_wheel / "studio" / "resources" / "clip"
    assert (folder / "bpe_simple_vocab_16e6.txt.gz").read_bytes() == \
        (ROOT / "resources" / "clip" / "bpe_simple_vocab_16e6.txt.gz").read_bytes()
    assert "Copyright (c) 2021 OpenAI" in (folder / "LICENSE").read_text()
