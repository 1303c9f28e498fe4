"""The kubelet server's client-certificate authentication and the Summary API."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import psutil
from aiohttp import web

from pyk8s.kubelet.cri.interface import (
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    ContainerStats,
    PodSandboxMetadata,
    PodSandboxStatus,
)
from pyk8s.kubelet.server import tls
from pyk8s.kubelet.server.app import build_kubelet_app
from pyk8s.kubelet.server.stats import StatsSampler
from pyk8s.pki.certs import new_ca, new_client_cert, write_pair


class StatsRuntime:
    def __init__(self) -> None:
        self.cpu = 0
        self.ts = 10_000_000_000

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]:
        return [PodSandboxStatus("sb", PodSandboxMetadata("p", "ns", "u"), "SANDBOX_READY", 1,
                                 labels={LABEL_POD_NAMESPACE: "ns", LABEL_POD_NAME: "p", LABEL_POD_UID: "u"})]

    async def list_containers(self) -> list[object]:
        return []

    async def list_container_stats(self) -> list[ContainerStats]:
        return [ContainerStats("c1", "c", "sb", self.ts, self.cpu, 1000, 2000)]


async def test_summary_derives_nano_cores_from_two_samples() -> None:
    rt = StatsRuntime()
    sampler = StatsSampler(rt, "n1")  # type: ignore[arg-type]
    first = await sampler.summary()
    assert "usageNanoCores" not in first["pods"][0]["cpu"]
    rt.cpu, rt.ts = 500_000_000, rt.ts + 2_000_000_000  # 0.5 s of CPU in 2 s = 250m
    s = await sampler.summary()
    pod = s["pods"][0]
    assert pod["podRef"] == {"name": "p", "namespace": "ns", "uid": "u"}
    assert pod["containers"][0]["cpu"]["usageNanoCores"] == 250_000_000
    assert pod["cpu"]["usageNanoCores"] == 250_000_000
    assert pod["containers"][0]["memory"] == {"time": pod["containers"][0]["memory"]["time"],
                                              "workingSetBytes": 1000, "usageBytes": 2000}
    # the node figures are the machine's (busy CPU since boot, memory in use), not the pods' sum
    node = s["node"]
    assert node["nodeName"] == "n1" and node["cpu"]["usageCoreNanoSeconds"] > 500_000_000
    assert 0 < node["memory"]["workingSetBytes"] <= psutil.virtual_memory().total


async def test_client_certificate_authentication(tmp_path: Path) -> None:
    client_ca = new_ca("client-ca")
    (tmp_path / "ca.crt").write_bytes(client_ca.cert_pem)
    crt, key = tls.ensure_serving_cert(tmp_path / "pki", "node1", ips=["127.0.0.1"])
    assert tls.ensure_serving_cert(tmp_path / "pki", "node1") == (crt, key)  # kept across restarts
    ctx = tls.server_ssl_context(crt, key, tmp_path / "ca.crt")
    app = build_kubelet_app(StatsRuntime(), node_name="n1", authorizer=tls.default_authorizer,  # type: ignore[arg-type]
                            stats_interval=None)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}/healthz"

    def client_ctx(cn: str | None, orgs: list[str]) -> ssl.SSLContext:
        c = ssl.create_default_context(cafile=str(crt))
        if cn is not None:
            write_pair(tmp_path, cn, new_client_cert(client_ca, cn, orgs))
            c.load_cert_chain(str(tmp_path / f"{cn}.crt"), str(tmp_path / f"{cn}.key"))
        return c

    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(url, ssl=client_ctx(None, [])) as r:
                assert r.status == 401 and (await r.json())["reason"] == "Unauthorized"
            async with s.get(url, ssl=client_ctx("someone", ["system:authenticated"])) as r:
                assert r.status == 403
            async with s.get(url, ssl=client_ctx("kube-apiserver-kubelet-client", [])) as r:
                assert (r.status, await r.text()) == (200, "ok")
            async with s.get(url, ssl=client_ctx("admin", ["system:masters"])) as r:
                assert r.status == 200
    finally:
        await runner.cleanup()


async def test_container_logs_with_the_cri_reader(tmp_path: Path) -> None:
    from pyk8s.kubelet.cri.interface import LABEL_CONTAINER_NAME, ContainerMetadata, ContainerStatus

    log = tmp_path / "0.log"
    log.write_text("2024-01-01T00:00:00.000000001Z stdout F one\n2024-01-01T00:00:01.000000000Z stderr P tw\n"
                   "2024-01-01T00:00:01.000000000Z stderr F o\n")

    class LogRuntime(StatsRuntime):
        async def container_status(self, container_id: str) -> ContainerStatus:
            return (await self.list_containers())[0]

        async def list_containers(self) -> list[ContainerStatus]:  # type: ignore[override]
            return [ContainerStatus("c1", "sb", ContainerMetadata("c"), "CONTAINER_EXITED", 1, "i", "i",
                                    labels={LABEL_POD_NAMESPACE: "ns", LABEL_POD_NAME: "p", LABEL_CONTAINER_NAME: "c"},
                                    log_path=str(log))]

    runner = web.AppRunner(build_kubelet_app(LogRuntime(), stats_interval=None))  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/containerLogs/ns/p/c"
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(url) as r:
                assert (r.status, await r.text()) == (200, "one\ntwo\n")
            async with s.get(url + "?tailLines=2&follow=true") as r:  # file lines, as upstream counts them
                assert await r.text() == "two\n"
            async with s.get(url + "?sinceTime=2024-01-01T00:00:00.5Z") as r:
                assert await r.text() == "two\n"
            async with s.get(url + "?previous=true") as r:
                assert r.status == 400
            async with s.get(url + "?tailLines=x") as r:
                assert r.status == 400
    finally:
        await runner.cleanup()
