"""Label selectors: upstream's parser, matching, canonical text and error messages."""

from __future__ import annotations

from typing import Any

import pytest

from pyk8s.api import errors
from pyk8s.api.labels import (
    EVERYTHING,
    NOTHING,
    Operator,
    Requirement,
    format_label_selector,
    format_labels,
    from_label_selector,
    go_quote,
    new_requirement,
    parse_selector,
    selector_from_set,
    selector_to_string,
    validate_label_key,
    validate_label_value,
)

VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


# upstream's TestSelectorParse good strings: canonical text is the input without spaces
@pytest.mark.parametrize("text", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1",
                                  "x>1,z<5"])
def test_parse_round_trips(text: str) -> None:
    assert str(parse_selector(text)) == text.replace(" ", "")


@pytest.mark.parametrize(("text", "canonical"), [
    ("a=x,x=a", "a=x,x=a"),
    ("x=a,a=x", "a=x,x=a"),  # sorted by key: deterministic
    ("x in (b,a,a)", "x in (a,b)"),
    ("x notin ()", "x notin ()"),
    ("x in (,a)", "x in (,a)"),
    ("x in (a,,b)", "x in (,a,b)"),
    ("x in (a,)", "x in (,a)"),
    ("x==y", "x==y"),
    ("in in (in)", "in in (in)"),  # keywords are identifiers in key and value positions
    ("notin=in", "notin=in"),
    ("  x  ,  !y  ", "x,!y"),
    ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"),
    ("x\ty", None),
])
def test_parse_canonical(text: str, canonical: str | None) -> None:
    if canonical is None:
        with pytest.raises(errors.BadRequest):
            parse_selector(text)
    else:
        assert str(parse_selector(text)) == canonical


@pytest.mark.parametrize(("text", "message"), [
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": "
            "for 'Gt', 'Lt' operators, the value must be an integer"),
    ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
    ("x in a", "unable to parse requirement: found 'a' expected: '('"),
    ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("x in =", "unable to parse requirement: found '=' expected: '('"),
    ("x in (=", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("x=(", "unable to parse requirement: found '(', expected: identifier"),
    ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
    ("x !", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    (",", "found ',', expected: !, identifier, or 'end of string'"),
    ("x,", "found '', expected: identifier after ','"),
    ("x,,y", "found ',', expected: identifier after ','"),
    ("x=a b", "found 'b', expected: ',' or 'end of string'"),
    ("x=a_", f"unable to parse requirement: values[0][x]: Invalid value: \"a_\": {VALUE_MSG}"),
    ("x>a_", "unable to parse requirement: [values[0]: Invalid value: \"a_\": for 'Gt', 'Lt' operators, the value "
             f"must be an integer, values[0][x]: Invalid value: \"a_\": {VALUE_MSG}]"),
    ("-x=1", f"unable to parse requirement: <nil>: Invalid value: \"-x\": {NAME_PART_MSG}"),
    ("x/y/z", "unable to parse requirement: <nil>: Invalid value: \"x/y/z\": a valid label key must consist of "
              "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character "
              "(e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
              "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
              "(e.g. 'example.com/MyName')"),
    ("/x", "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be non-empty"),
])
def test_parse_errors_carry_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        parse_selector(text)
    assert exc.value.message == message
    assert exc.value.status()["code"] == 400
    assert exc.value.status()["reason"] == "BadRequest"


@pytest.mark.parametrize(("text", "labels", "want"), [
    ("", {"x": "y"}, True),
    ("", {}, True),
    ("x=y", {"x": "y"}, True),
    ("x=y,z=w", {"x": "y", "z": "w"}, True),
    ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
    ("notin=in", {"notin": "in"}, True),
    ("x", {"x": "z"}, True),
    ("!x", {"y": "z"}, True),
    ("x>1", {"x": "2"}, True),
    ("x<1", {"x": "0"}, True),
    ("x=z", {}, False),
    ("x=y", {"x": "z"}, False),
    ("x=y,z=w", {"x": "w", "z": "w"}, False),
    ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
    ("x", {"y": "z"}, False),
    ("!x", {"x": "z"}, False),
    ("x>1", {"x": "0"}, False),
    ("x<1", {"x": "2"}, False),
    ("x>1", {}, False),
    ("x>1", {"x": "abc"}, False),
    ("x>1", {"x": "1_000"}, False),  # Go's ParseInt takes no underscores
    ("x>1", {"x": "99999999999999999999"}, False),  # beyond int64
    ("x in (a,b)", {"x": "b"}, True),
    ("x in (a,b)", {"x": "c"}, False),
    ("x in (a,b)", {}, False),
    ("x notin (a,b)", {}, True),
    ("x notin (a,b)", {"x": "a"}, False),
    ("x notin (a,b)", {"x": "c"}, True),
    ("x=", {"x": ""}, True),
    ("x=", {}, False),
    ("x!=", {}, True),
    ("x in ()", {"x": ""}, True),
    ("foo=bar,baz=blah", {"foo": "bar", "baz": "blah"}, True),
])
def test_matches(text: str, labels: dict[str, str], want: bool) -> None:
    assert parse_selector(text).matches(labels) is want


def test_matches_treats_none_as_no_labels() -> None:
    assert parse_selector("!x").matches(None)
    assert not parse_selector("x").matches(None)


def test_requires_exact_match() -> None:
    assert parse_selector("x=a,y in (b)").requires_exact_match("x") == "a"
    assert parse_selector("x=a,y in (b)").requires_exact_match("y") == "b"
    assert parse_selector("x in (a,b)").requires_exact_match("x") is None
    assert parse_selector("x!=a").requires_exact_match("x") is None
    assert parse_selector("x=a").requires_exact_match("z") is None


@pytest.mark.parametrize(("obj", "text", "matches", "no_match"), [
    (None, "", None, {"a": "b"}),
    ({}, "", {"a": "b"}, None),
    ({"matchLabels": {}, "matchExpressions": []}, "", {}, None),
    ({"matchLabels": {"app": "web"}}, "app=web", {"app": "web", "x": "y"}, {"app": "db"}),
    ({"matchLabels": {"tier": "fe", "app": "web"}}, "app=web,tier=fe", {"app": "web", "tier": "fe"}, {"app": "web"}),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
     "app=web,tier in (a,b)", {"app": "web", "tier": "a"}, {"app": "web", "tier": "c"}),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]},
     "tier notin (a)", {}, {"tier": "a"}),
    ({"matchExpressions": [{"key": "gpu", "operator": "Exists"}]}, "gpu", {"gpu": ""}, {}),
    ({"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist", "values": []}]}, "!gpu", {}, {"gpu": "x"}),
])
def test_from_label_selector(obj: dict[str, Any] | None, text: str, matches: dict[str, str] | None,
                             no_match: dict[str, str] | None) -> None:
    selector = from_label_selector(obj)
    assert str(selector) == text
    assert selector_to_string(obj) == text
    if matches is not None:
        assert selector.matches(matches)
    if no_match is not None:
        assert not selector.matches(no_match)


def test_none_matches_nothing_and_empty_matches_everything() -> None:
    assert from_label_selector(None) is NOTHING
    assert not NOTHING.matches({})
    assert not NOTHING.empty()
    assert from_label_selector({}) == EVERYTHING
    assert EVERYTHING.empty()


@pytest.mark.parametrize(("obj", "message"), [
    ({"matchExpressions": [{"key": "a", "operator": "Bogus", "values": ["x"]}]},
     '"Bogus" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"),
    ({"matchLabels": {"-a": "b"}}, f"key: Invalid value: \"-a\": {NAME_PART_MSG}"),
    ({"matchLabels": {"a": "b c"}}, f"values[0][a]: Invalid value: \"b c\": {VALUE_MSG}"),
])
def test_from_label_selector_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.BadRequest) as exc:
        from_label_selector(obj)
    assert exc.value.message == message


@pytest.mark.parametrize(("obj", "text"), [
    (None, "<none>"),
    ({}, "<none>"),
    ({"matchLabels": {"app": "web"}}, "app=web"),
    ({"matchExpressions": [{"key": "a", "operator": "Bogus"}]}, "<error>"),
])
def test_format_label_selector(obj: dict[str, Any] | None, text: str) -> None:
    assert format_label_selector(obj) == text


def test_format_labels_and_selector_from_set() -> None:
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"
    assert str(selector_from_set({"b": "2", "a": "1"})) == "a=1,b=2"
    assert selector_from_set({}).empty()


def test_requirement_string_forms() -> None:
    assert str(Requirement("x", Operator.GREATER_THAN, ("1",))) == "x>1"
    assert str(Requirement("x", Operator.LESS_THAN, ("1",))) == "x<1"
    assert str(Requirement("x", Operator.NOT_IN, ("b", "a"))) == "x notin (a,b)"
    assert str(Requirement("x", Operator.DOES_NOT_EXIST)) == "!x"
    assert str(EVERYTHING.add(Requirement("b", Operator.EXISTS), Requirement("a", Operator.EXISTS))) == "a,b"


def test_new_requirement_checks_arity() -> None:
    assert new_requirement("x", Operator.IN, ["a"]).matches({"x": "a"})
    with pytest.raises(errors.BadRequest) as exc:
        new_requirement("x", Operator.EQUALS, ["a", "b"])
    assert exc.value.message == 'values: Invalid value: ["a","b"]: exact-match compatibility requires one single value'
    with pytest.raises(errors.BadRequest) as exc:
        new_requirement("x", Operator.GREATER_THAN, [])
    assert exc.value.message == "values: Invalid value: null: for 'Gt', 'Lt' operators, exactly one value is required"


def test_validate_label_key_and_value() -> None:
    assert validate_label_key("app.kubernetes.io/name") == []
    assert validate_label_key("-bad") == [NAME_PART_MSG]
    assert validate_label_value("ok") == []
    assert validate_label_value("not ok") == [VALUE_MSG]


@pytest.mark.parametrize(("value", "quoted"), [
    ("abc", '"abc"'),
    ('a"b', '"a\\"b"'),
    ("a\\b", '"a\\\\b"'),
    ("a\nb\t", '"a\\nb\\t"'),
    ("\x00", '"\\x00"'),
    ("é", '"é"'),
    ("\u200b", '"\\u200b"'),
])
def test_go_quote(value: str, quoted: str) -> None:
    assert go_quote(value) == quoted
