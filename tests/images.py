"""The container set-up the image tests and ``benchmarks/image.py`` share: podman's config and a base image.

No image registry is reachable from the test machines, so the base image is made locally, once, from
Debian's own packages (``debootstrap --variant=minbase`` with Python 3, imported with ``podman
import``) and reused by every later run (``podman image exists``). Podman reads the config file named
by ``CONTAINERS_CONF`` instead of the user's: runc (crun cannot create containers on hosts with hybrid
cgroups), cgroupfs, explicit ulimits and the host's network namespace. It is written under the
system's temporary folder, never into the user's home.

Run ``python tests/images.py`` to make the base image ahead of a test run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_IMAGE = "localhost/nbops-test-base:bookworm"

CONTAINERS_CONF = """\
[containers]
netns = "host"
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""

_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"


def containers_conf() -> Path:
    """Write podman's config (idempotent) and return its path, for ``CONTAINERS_CONF``."""
    folder = Path(tempfile.gettempdir()) / "nbops-podman"
    folder.mkdir(exist_ok=True)
    path = folder / "containers.conf"
    if not path.exists() or path.read_text() != CONTAINERS_CONF:
        tmp = path.with_suffix(f".{os.getpid()}")
        tmp.write_text(CONTAINERS_CONF)
        tmp.replace(path)
    return path


def podman_env() -> dict[str, str]:
    """The environment podman runs with in the tests: ours, plus ``CONTAINERS_CONF``."""
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def _debian_mirror() -> str:
    """The first ``URIs:`` of apt's own sources, so debootstrap uses the mirror this machine uses."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in source.read_text().splitlines():
            if line.startswith("URIs:") and line.split()[1:]:
                return line.split()[1]
    return "http://deb.debian.org/debian"


def ensure_base_image(name: str = BASE_IMAGE) -> str:
    """Make the Debian base image unless podman already has it; returns its name."""
    env = podman_env()
    if subprocess.run(["podman", "image", "exists", name], env=env).returncode == 0:
        return name
    with tempfile.TemporaryDirectory(prefix="nbops-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={_PACKAGES}",
                "bookworm",
                str(rootfs),
                _debian_mirror(),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        tar = subprocess.Popen(
            ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."], stdout=subprocess.PIPE
        )
        subprocess.run(
            ["podman", "import", "-", name], stdin=tar.stdout, env=env, check=True, stdout=subprocess.DEVNULL
        )
        tar.stdout.close()  # type: ignore[union-attr]
        if tar.wait() != 0:
            raise RuntimeError("tar of the debootstrap root failed")
        shutil.rmtree(rootfs, ignore_errors=True)
    return name


if __name__ == "__main__":
    print(ensure_base_image(), file=sys.stdout)
