"""A live `turbodiffusion webui --model demo` (the built binary) for the tests, on an ephemeral port."""
import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(PACKAGE))
sys.path.insert(0, PACKAGE)
sys.path.insert(0, os.path.join(ROOT, "scripts", "webui"))

from live_server import start_server  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--binary", default=os.path.join(ROOT, ".build", "release", "turbodiffusion"),
                     help="the turbodiffusion executable to serve (default: the release build)")


def _serve(request, *extra):
    binary = request.config.getoption("--binary")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"no turbodiffusion executable at {binary}; build it or pass --binary")
    out = tempfile.mkdtemp(prefix="td-comfyui-")
    # The demo models are found relative to the working directory (the repository root).
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        proc, url = start_server(binary, out, *extra)
    finally:
        os.chdir(cwd)
    return proc, url, out


@pytest.fixture(scope="session")
def server(request):
    proc, url, out = _serve(request)
    yield url, out
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def token_server(request):
    """A server that requires the token "s3cret-token" (loopback, --token)."""
    proc, url, out = _serve(request, "--token", "s3cret-token")
    yield url.split("?")[0], out
    proc.terminate()
    proc.wait(timeout=20)
