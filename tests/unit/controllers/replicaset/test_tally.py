"""replicaset.tally: pods counted per controller and Signature, kept exactly in step with add/update/delete."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from pyk8s.controllers.replicaset.tally import PodTally, Signature, signature


def pod(name: str, *, ns: str = "ns", owner: str | None = "rs1", labels: dict[str, str] | None = None,
        phase: str = "Running", ready: bool | None = True, deleting: bool = False) -> dict[str, Any]:
    md: dict[str, Any] = {"name": name, "namespace": ns, "labels": {"app": "web"} if labels is None else labels}
    if owner is not None:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": owner,
                                  "controller": True}]
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status: dict[str, Any] = {"phase": phase}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": md, "status": status}


WEB = (("app", "web"),)


def test_signature() -> None:
    assert signature(pod("a")) == Signature(WEB, True, True)
    assert signature(pod("a", ready=None, phase="Pending")) == Signature(WEB, True, False)
    assert signature(pod("a", phase="Succeeded")) == Signature(WEB, False, True)
    assert signature(pod("a", deleting=True)) == Signature(WEB, False, True)
    assert signature(pod("a", labels={})) == Signature((), True, True)


def test_counts_follow_updates_adoption_release_and_deletes() -> None:
    t = PodTally()
    t.observe(pod("a", ready=False))
    t.observe(pod("b", ready=False))
    t.observe(pod("c", owner="rs2"))
    t.observe(pod("d", owner=None))
    t.observe(pod("e", ns="other"))
    assert t.groups("ns", "rs1") == {Signature(WEB, True, False): 2}
    assert t.groups("ns", "rs2") == {Signature(WEB, True, True): 1}
    assert t.groups("other", "rs1") == {Signature(WEB, True, True): 1}
    assert len(t) == 4  # the orphan is not counted
    t.observe(pod("a"))  # became ready
    t.observe(pod("a"))  # the same again: no double count
    assert t.groups("ns", "rs1") == {Signature(WEB, True, False): 1, Signature(WEB, True, True): 1}
    t.observe(pod("d"))  # adopted
    t.observe(pod("b", owner=None, ready=False))  # released
    assert t.groups("ns", "rs1") == {Signature(WEB, True, True): 2}
    t.forget(pod("a"))
    t.forget(pod("a"))  # a second delete changes nothing
    t.forget(pod("b"))  # an orphan's delete changes nothing
    assert t.groups("ns", "rs1") == {Signature(WEB, True, True): 1}
    t.forget(pod("d"))
    assert t.groups("ns", "rs1") == {}
    groups = t.groups("ns", "rs2")
    groups.clear()  # a copy: the tally is unchanged
    assert t.groups("ns", "rs2") == {Signature(WEB, True, True): 1}


def test_random_event_streams_leave_the_counts_of_the_final_pods() -> None:
    rng = random.Random(3)
    t = PodTally()
    current: dict[str, dict[str, Any]] = {}
    for _ in range(3000):
        name = f"p{rng.randrange(40)}"
        if rng.random() < 0.2:
            if name in current:
                t.forget(current.pop(name))
            continue
        p = pod(name, owner=rng.choice([None, "rs1", "rs2"]), labels=rng.choice([{"app": "web"}, {"app": "db"}]),
                phase=rng.choice(["Pending", "Running", "Failed"]), ready=rng.choice([None, True, False]),
                deleting=rng.random() < 0.1)
        current[name] = p
        t.observe(p)
    for owner in ("rs1", "rs2"):
        want = Counter(signature(p) for p in current.values()
                       if (p["metadata"].get("ownerReferences") or [{}])[0].get("uid") == owner)
        assert t.groups("ns", owner) == dict(want)
