"""JSON values: what PostgreSQL's jsonb holds and reads back the same on every backend.

Exactly dict, list, str, int, float, bool or None; text a text column could hold; ints
within 64 bits; finite floats; at most `JSON_MAX_DEPTH` deep and `JSON_MAX_VALUES`
values as written out.
"""

from __future__ import annotations

import math
from typing import Any, Final, cast

from skillbox_store.errors import InvalidArgumentError, shown
from skillbox_store.limits import JSON_INT_MAX, JSON_INT_MIN, JSON_MAX_DEPTH, JSON_MAX_VALUES
from skillbox_store.validation.fields import Text, check_text, text_field

__all__ = ["check_json"]

_INF: Final = math.inf


def _check_depth(field: Text, depth: int) -> None:
    """Refuse a list or object that ``depth`` others enclose, if that is too deep."""
    if depth >= JSON_MAX_DEPTH:
        raise InvalidArgumentError(
            f"{field} nests lists and objects more than {JSON_MAX_DEPTH} deep"
        )


def _check_json_scalar(field: Text, item: object) -> None:
    if item is None or type(item) is bool:
        return
    if type(item) is str:
        check_text(field, item, required=False)
    elif type(item) is int:
        if not JSON_INT_MIN <= item <= JSON_INT_MAX:
            raise InvalidArgumentError(
                f"{field} must be JSON with 64-bit integers: a {item.bit_length()}-bit "
                f"integer is outside {JSON_INT_MIN} to {JSON_INT_MAX}"
            )
    elif type(item) is float:
        if not math.isfinite(item):
            raise InvalidArgumentError(f"{field} must be JSON: {item} is not a JSON number")
    else:
        raise InvalidArgumentError(
            f"{field} must be JSON: {type(item).__name__} is not a JSON value "
            "(use dict, list, str, int, float, bool or None)"
        )


def _json_children(field: Text, container: Any) -> list[object]:
    if type(container) is list:
        return cast(list[object], container)
    for key in container:
        _check_json_key(field, key)
    return list(container.values())


def _too_many_values(field: Text) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{field} holds more than {JSON_MAX_VALUES:,} JSON values "
        "(counted as written out: a list or object used twice counts twice)"
    )


# Most JSON values are small and shallow. Checked recursively, without the bookkeeping
# that bounds the walk of huge or self-sharing values, they cost a fifth as much (every
# create_execution pays it); a value bigger or deeper than this is walked again in full.
_SMALL_JSON_VALUES: Final = min(256, JSON_MAX_VALUES)
_SMALL_JSON_DEPTH: Final = min(8, JSON_MAX_DEPTH - 1)


def _check_json_key(field: Text, key: object) -> None:
    if type(key) is not str:
        raise InvalidArgumentError(
            f"{field} must be JSON: object keys must be strings, got {shown(key)}"
        )
    check_text(field, key, required=False)


def _check_small_json(field: Text, value: object, depth: int, budget: int) -> int:
    """Check ``value`` as `check_json` does; return how many values the budget has left.

    Returns -1, having concluded nothing, when ``value`` holds more than ``budget``
    values or nests deeper than `_SMALL_JSON_DEPTH`. Values are visited in the order of
    the full walk (an object's keys before its values), so the first bad one raises the
    same error: no limit of the full walk can be reached within this path's bounds.
    The common good values (ASCII text, 64-bit ints, finite floats) are recognized
    inline, and only the others go through the checks that name what is wrong.
    """
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        _check_json_scalar(field, value)
        return budget - 1
    if depth > _SMALL_JSON_DEPTH or len(value) >= budget:
        return -1
    if type(value) is dict:
        for key in value:
            if type(key) is not str or "\x00" in key or not key.isascii():
                _check_json_key(field, key)
    budget -= 1
    for child in children:
        kind = type(child)
        if kind is str:
            if "\x00" in child or not child.isascii():
                check_text(field, child, required=False)
        elif kind is int:
            if not JSON_INT_MIN <= child <= JSON_INT_MAX:
                _check_json_scalar(field, child)
        elif kind is float:
            # False for NaN and both infinities.
            if not -_INF < child < _INF:
                _check_json_scalar(field, child)
        elif kind is list or kind is dict:
            budget = _check_small_json(field, child, depth + 1, budget)
            if budget < 0:
                return -1
            continue
        elif child is not None and kind is not bool:
            _check_json_scalar(field, child)
        budget -= 1
        if budget < 0:
            return -1
    return budget


def check_json(field: Text | str, value: object) -> None:
    """Refuse what JSON (and PostgreSQL's jsonb) cannot hold, without recursion.

    Values must be exactly dict, list, str, int, float, bool or None (a subclass would
    read back as its base type from SQL backends but not from memory), ints within 64
    bits, floats finite, lists and objects nested at most `JSON_MAX_DEPTH` deep (which
    also ends the walk of a value that contains itself), and at most `JSON_MAX_VALUES`
    values as written out.

    Each distinct list or object is walked once and remembered with its size and
    height, so a Python value that shares one list many times over (``v = [v, v]``,
    sixty times: 2**60 values once written) is measured, and refused, at once.
    """
    field = text_field(field)
    if type(value) is not list and type(value) is not dict:
        _check_json_scalar(field, value)
        return
    if _check_small_json(field, value, 0, _SMALL_JSON_VALUES) >= 0:
        return
    # id -> (values it holds as written out, itself included; lists and objects on its
    # deepest path, itself included). The ids stay valid: `value` keeps them alive.
    measured: dict[int, tuple[int, int]] = {}
    # One frame per open container: the container, its children, the next child's index,
    # its depth, and its size and height so far.
    stack: list[list[Any]] = []

    def enter(container: Any, depth: int) -> None:
        _check_depth(field, depth)
        children = _json_children(field, container)
        if len(children) >= JSON_MAX_VALUES:
            raise _too_many_values(field)
        stack.append([container, children, 0, depth, 1, 1])

    enter(value, 0)
    while stack:
        frame = stack[-1]
        container, children, index, depth = frame[0], frame[1], frame[2], frame[3]
        if index == len(children):
            stack.pop()
            size, height = frame[4], frame[5]
            measured[id(container)] = (size, height)
            if not stack:
                return
            parent = stack[-1]
            parent[4] += size
            parent[5] = max(parent[5], height + 1)
            if parent[4] > JSON_MAX_VALUES:
                raise _too_many_values(field)
            continue
        frame[2] = index + 1
        child = children[index]
        if type(child) is not list and type(child) is not dict:
            _check_json_scalar(field, child)
            frame[4] += 1
            if frame[4] > JSON_MAX_VALUES:
                raise _too_many_values(field)
            continue
        known = measured.get(id(child))
        if known is None:
            enter(child, depth + 1)
            continue
        size, height = known
        _check_depth(field, depth + height)
        frame[4] += size
        frame[5] = max(frame[5], height + 1)
        if frame[4] > JSON_MAX_VALUES:
            raise _too_many_values(field)
