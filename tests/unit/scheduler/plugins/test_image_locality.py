from pyk8s.scheduler.framework.interface import CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.image_locality import ImageLocality, normalized_image_name
from tests.unit.scheduler.helpers import build_cache, framework, make_node, make_pod

MB = 1024 * 1024


def test_normalized_image_name():
    assert normalized_image_name("nginx") == "nginx:latest"
    assert normalized_image_name("reg:5000/nginx") == "reg:5000/nginx:latest"
    assert normalized_image_name("nginx:1.25") == "nginx:1.25"


def test_nodes_with_the_image_score_higher():
    images = [{"names": ["big:1"], "sizeBytes": 500 * MB}]
    cache = build_cache([make_node("a", images=images), make_node("b", images=images), make_node("c")])
    pl = ImageLocality(framework(cache, plugins=[]))
    pod = PodInfo(make_pod("p", spec={"containers": [{"name": "c", "image": "big:1"}]}))
    nodes = cache.node_list()
    state = CycleState()
    assert pl.pre_score(state, pod, nodes) is None
    scores, _ = pl.score(state, pod, nodes)
    by_name = dict(zip([n.name for n in nodes], scores, strict=True))
    # 500MB * 2/3 spread = 333MB; (333-23)*100/(1000-23) = 31
    assert by_name == {"a": 31, "b": 31, "c": 0}


def test_skip_when_no_node_has_the_images():
    cache = build_cache([make_node("a")])
    pl = ImageLocality(framework(cache, plugins=[]))
    s = pl.pre_score(CycleState(), PodInfo(make_pod("p")), cache.node_list())
    assert s is not None and s.is_skip()
