from pyk8s.scheduler.framework.interface import Code, CycleState
from pyk8s.scheduler.framework.types import PodInfo
from pyk8s.scheduler.plugins.node_ports import ERR_REASON, NodePorts
from tests.unit.scheduler.helpers import make_node, make_pod, node_info, run_filter


def port_pod(name, port, ip="", protocol="TCP", node=""):
    c = {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": port, "protocol": protocol,
                                                **({"hostIP": ip} if ip else {})}]}
    return make_pod(name, node_name=node, spec={"containers": [c]})


def test_no_host_ports_skips():
    _, s = NodePorts().pre_filter(CycleState(), PodInfo(make_pod("p")), [])
    assert s is not None and s.is_skip()


def test_conflicting_host_port():
    node = node_info(make_node("n"), [port_pod("a", 8080, node="n")])
    s = run_filter(NodePorts(), port_pod("b", 8080), node)
    assert s is not None and s.code is Code.UNSCHEDULABLE and s.message() == ERR_REASON
    assert ERR_REASON == "node(s) didn't have free ports for the requested pod ports"
    assert run_filter(NodePorts(), port_pod("c", 8081), node) is None
    assert run_filter(NodePorts(), port_pod("d", 8080, protocol="UDP"), node) is None


def test_host_ip_semantics():
    node = node_info(make_node("n"), [port_pod("a", 9000, ip="10.0.0.1", node="n")])
    assert run_filter(NodePorts(), port_pod("b", 9000, ip="10.0.0.2"), node) is None
    assert run_filter(NodePorts(), port_pod("c", 9000, ip="10.0.0.1"), node) is not None
    assert run_filter(NodePorts(), port_pod("d", 9000), node) is not None  # 0.0.0.0 conflicts with every IP


def test_removing_pod_frees_port():
    holder = PodInfo(port_pod("a", 8080, node="n"))
    ni = node_info(make_node("n"))
    ni.add_pod(holder)
    ni.remove_pod(holder)
    assert run_filter(NodePorts(), port_pod("b", 8080), ni) is None
