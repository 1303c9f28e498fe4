"""The Kubernetes version pyk8s implements, as /version reports it.

The machine's kubectl dispatcher picks the kubectl minor from this, so it must match the API we serve.
"""

from __future__ import annotations

import platform
from typing import Any

KUBE_MAJOR = "1"
KUBE_MINOR = "33"
GIT_VERSION = "v1.33.0+pyk8s"


def version_info() -> dict[str, Any]:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "major": KUBE_MAJOR,
        "minor": KUBE_MINOR,
        "emulationMajor": KUBE_MAJOR,
        "emulationMinor": KUBE_MINOR,
        "minCompatibilityMajor": KUBE_MAJOR,
        "minCompatibilityMinor": str(int(KUBE_MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-11-27T00:00:00Z",
        "goVersion": f"python{platform.python_version()}",
        "compiler": "cpython",
        "platform": f"linux/{arch}",
    }
