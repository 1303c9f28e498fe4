"""framework.labelmatch: the fast predicate answers exactly what Selector.matches answers."""

from __future__ import annotations

import itertools

from pyk8s.api.labels import EVERYTHING, NOTHING, from_label_selector, parse_selector, selector_from_set
from pyk8s.controllers.framework.labelmatch import label_matcher

LABEL_SETS = [None, {}, {"app": "web"}, {"app": "db"}, {"app": "web", "tier": "fe"}, {"tier": "fe"},
              {"app": "web", "tier": "be", "x": "1"}, {"x": "1"}, {"x": "2"}]


def test_equality_selectors_match_as_sub_maps() -> None:
    selectors = [
        selector_from_set({"app": "web"}),
        selector_from_set({"app": "web", "tier": "fe"}),
        from_label_selector({"matchLabels": {"app": "web"}}),
        from_label_selector({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}),
        parse_selector("app==web,tier=fe"),
    ]
    for sel, labels in itertools.product(selectors, LABEL_SETS):
        assert label_matcher(sel)(labels) == sel.matches(labels), (sel, labels)


def test_other_selectors_keep_their_own_semantics() -> None:
    selectors = [
        EVERYTHING,
        NOTHING,
        from_label_selector(None),
        from_label_selector({}),
        from_label_selector({"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "db"]}]}),
        from_label_selector({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}),
        from_label_selector({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
        from_label_selector({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}),
        # the same key twice (In and matchLabels): must not collapse into one map entry
        from_label_selector({"matchLabels": {"app": "web"},
                             "matchExpressions": [{"key": "app", "operator": "In", "values": ["db"]}]}),
        parse_selector("x>0"),
        parse_selector("app!=web"),
    ]
    for sel, labels in itertools.product(selectors, LABEL_SETS):
        assert label_matcher(sel)(labels) == sel.matches(labels), (sel, labels)
