"""Kubernetes label syntax, checked before anything reaches a cluster.

A node selector with a bad key is accepted by Pulumi and rejected by the API server
half-way through an update; checking it here turns that into a config error that names
the key.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def label_key_problem(key: str) -> str | None:
    """Why ``key`` is not a valid label key, or None when it is."""
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return "a label key has at most one '/' (prefix/name)"
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        return f"prefix '{prefix}' must be a lower-case DNS subdomain of at most 253 characters"
    if not name:
        return "the name part of a label key must not be empty"
    if len(name) > 63 or not _NAME.match(name):
        return (
            f"name '{name}' must be at most 63 characters of letters, digits, '-', '_' or '.',"
            " starting and ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    """Why ``value`` is not a valid label value, or None when it is."""
    if value == "":
        return None
    if len(value) > 63 or not _NAME.match(value):
        return (
            f"value '{value}' must be empty or at most 63 characters of letters, digits,"
            " '-', '_' or '.', starting and ending with a letter or digit"
        )
    return None


def dns_label_problem(name: str, max_length: int = 63) -> str | None:
    """Why ``name`` is not a valid DNS-1123 label (namespace, object name), or None."""
    if len(name) > max_length:
        return f"'{name}' is longer than {max_length} characters"
    if not _DNS_LABEL.match(name):
        return f"'{name}' must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns_subdomain_problem(name: str) -> str | None:
    """Why ``name`` is not a valid DNS-1123 subdomain (Secret and CR names), or None."""
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return f"'{name}' must be a lower-case DNS subdomain (letters, digits, '-', '.') of at most 253 characters"
    return None


def _node_selector(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        problem = label_key_problem(key)
        if problem:
            raise ValueError(f"label key '{key}': {problem}")
        problem = label_value_problem(label)
        if problem:
            raise ValueError(f"label '{key}': {problem}")
    return value


def _dns_label(value: str) -> str:
    problem = dns_label_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _dns_subdomain(value: str) -> str:
    problem = dns_subdomain_problem(value)
    if problem:
        raise ValueError(problem)
    return value


#: Field types that check Kubernetes syntax before anything reaches a cluster.
NodeSelector = Annotated[dict[str, str], AfterValidator(_node_selector)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]
