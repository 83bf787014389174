"""The Python package builds cleanly and its wheel runs a server on its own.

Builds an sdist and a wheel with ``python -m build``, installs the wheel and its
dependencies (from the package index, through pip's cache) into a fresh virtual
environment, starts that environment's ``skbridge serve`` outside this checkout and fits a
model through the reference client.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bridge.client import Client
from bridge.launcher import _read_line
from estimators import MiniBatchKMeans

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)[1]
WHEEL = f"skbridge-{VERSION}-py3-none-any.whl"
SDIST = f"skbridge-{VERSION}.tar.gz"


def _run(args: list[str], **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{output}"
    return output


def _ready_line(process: subprocess.Popen[bytes], timeout: float) -> dict[str, object]:
    return json.loads(_read_line(process, timeout))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("dist")
    log = _run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], cwd=ROOT)
    return out, log


def test_build_prints_no_deprecation_warnings(built: tuple[Path, str]) -> None:
    _, log = built
    assert not re.search(r"deprecat|BuildBackendWarning", log, re.I), log


def test_wheel_and_sdist_carry_the_contract_schema(built: tuple[Path, str]) -> None:
    out, _ = built
    names = zipfile.ZipFile(out / WHEEL).namelist()
    for name in ("schemas/contract.schema.json", "bridge/cli.py", "estimators/__init__.py"):
        assert name in names
    metadata = zipfile.ZipFile(out / WHEEL).read(f"skbridge-{VERSION}.dist-info/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    with tarfile.open(out / SDIST) as sdist:
        assert f"skbridge-{VERSION}/schemas/contract.schema.json" in sdist.getnames()


def test_installed_wheel_serves_and_fits(built: tuple[Path, str], tmp_path: Path) -> None:
    out, _ = built
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    _run([str(python), "-m", "pip", "install", "--disable-pip-version-check", str(out / WHEEL)])

    # Outside the checkout and without PYTHONPATH: only the installed copy can answer.
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = _run(
        [str(python), "-c", "import bridge; print(bridge.__file__)"], cwd=tmp_path, env=clean
    )
    assert str(env_dir) in where and str(ROOT) not in where

    script = env_dir / ("Scripts/skbridge.exe" if os.name == "nt" else "bin/skbridge")
    server = subprocess.Popen(
        [str(script), "serve", "--endpoint", "tcp://127.0.0.1:0", "--workers", "1"],
        stdout=subprocess.PIPE,
        cwd=tmp_path,
        env=clean,
    )
    try:
        ready = _ready_line(server, timeout=120)
        assert ready["event"] == "ready"
        rng = np.random.default_rng(0)
        X = np.concatenate([rng.normal(c, 0.3, size=(50, 2)) for c in ((0, 0), (5, 5), (0, 5))])
        with Client(str(ready["endpoint"])) as client:
            assert client.info()["server"] == VERSION
            km = client.init("MiniBatchKMeans", n_clusters=3, random_state=0, n_init=1)
            client.call(km, "fit", X=X)
            labels = client.call(km, "predict", X=X)
            centers = client.get(km, "cluster_centers_")
            client.shutdown()
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    local = MiniBatchKMeans(n_clusters=3, random_state=0, n_init=1).fit(X)
    np.testing.assert_array_equal(np.asarray(labels), local.predict(X))
    np.testing.assert_array_equal(np.asarray(centers), local.cluster_centers_)
