"""The pod's /etc/hosts, as upstream's kubelet writes it (managedHostsFileContent).

One text for both writers: the kubelet's per-pod hosts file (with the pod IP, FQDN and hostAliases) and the
runtime's sandbox fallback for pods the kubelet gives none.
"""

from __future__ import annotations

from typing import Any


def hosts_file_content(pod_ips: list[str], hostname: str, domain: str, host_aliases: list[dict[str, Any]]) -> str:
    """managedHostsFileContent: localhost entries, the pod's own name, then hostAliases."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    for ip in pod_ips:
        lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}" if domain else f"{ip}\t{hostname}")
    if host_aliases:
        lines.append("")
        lines.append("# Entries added by HostAliases.")
        for alias in host_aliases:
            lines.append(f"{alias.get('ip', '')}\t" + "\t".join(str(h) for h in alias.get("hostnames") or []))
    return "\n".join(lines) + "\n"
