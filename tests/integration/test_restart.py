"""An acknowledged write survives kill -9 of the apiserver; a restart serves the same objects and revisions."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

from tests.apiserver_process import APIServerProcess
from tests.integration.http import AdminHTTP


def test_acknowledged_creates_survive_kill_9(tmp_path: Path) -> None:
    server = APIServerProcess(tmp_path / "state").start()
    acked: dict[str, str] = {}
    try:
        api = AdminHTTP(server.kubeconfig)
        base = "/api/v1/namespaces/default/configmaps"

        def create(i: int) -> tuple[str, str] | None:
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"k{i}"}, "data": {"i": str(i)}}
            try:
                reply = api.request("POST", base, body, timeout=10)
            except OSError:
                return None
            if reply.status != 201:
                return None
            return f"k{i}", reply.json()["metadata"]["resourceVersion"]

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(create, i) for i in range(400)]
            for n, fut in enumerate(futures):
                if n == 150:
                    server.kill9()
                got = fut.result()
                if got:
                    acked[got[0]] = got[1]
        assert len(acked) >= 100, len(acked)
    finally:
        server.stop()
    restarted = APIServerProcess(tmp_path / "state").start()
    try:
        api = AdminHTTP(restarted.kubeconfig)
        listed = api.request("GET", "/api/v1/namespaces/default/configmaps").json()
        stored = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in listed["items"]}
        missing = {name for name in acked if name not in stored}
        assert not missing, f"acknowledged but lost after kill -9: {sorted(missing)[:10]}"
        assert all(stored[name] == rv for name, rv in acked.items())
        # The restart listens on another port: the `kubernetes` Service and its endpoints follow it.
        svc = api.request("GET", "/api/v1/namespaces/default/services/kubernetes").json()
        assert svc["spec"]["ports"][0]["targetPort"] == restarted.port
        eps = api.request("GET", "/api/v1/namespaces/default/endpoints/kubernetes").json()
        assert eps["subsets"][0]["ports"][0]["port"] == restarted.port
        # Revisions keep increasing after the restart.
        newest = max(int(rv) for rv in stored.values())
        after = api.request("POST", "/api/v1/namespaces/default/configmaps",
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}})
        assert after.status == 201 and int(after.json()["metadata"]["resourceVersion"]) > newest
    finally:
        restarted.stop()
