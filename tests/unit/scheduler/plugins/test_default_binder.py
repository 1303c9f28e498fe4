from pyk8s.api import errors
from pyk8s.client.fake import FakeClient
from pyk8s.client.kinds import PODS
from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.plugins.default_binder import DefaultBinder
from tests.unit.scheduler.helpers import build_cache, framework, make_pod


async def test_bind_posts_binding():
    fake = FakeClient()
    created = await fake.create(PODS, make_pod("p"))
    fwk = framework(build_cache([]), plugins=[], client=fake)
    pi = fwk.pod_info(created)
    assert await DefaultBinder(fwk).bind(CycleState(), pi, "node-1") is None
    [action] = [a for a in fake.actions if a.verb == "create_subresource"]
    assert (action.resource, action.subresource, action.name, action.namespace) == ("pods", "binding", "p", "default")
    assert action.body["target"] == {"apiVersion": "v1", "kind": "Node", "name": "node-1"}
    assert action.body["metadata"]["uid"] == created["metadata"]["uid"]
    assert (await fake.get(PODS, "p", "default"))["spec"]["nodeName"] == "node-1"


async def test_bind_failure_is_an_error_status():
    fake = FakeClient()
    created = await fake.create(PODS, make_pod("p"))
    fwk = framework(build_cache([]), plugins=[], client=fake)
    fake.fail_next("create_subresource", "pods", errors.Conflict("boom"))
    s = await DefaultBinder(fwk).bind(CycleState(), fwk.pod_info(created), "n")
    assert s is not None and s.code is Code.ERROR and "boom" in s.message()
