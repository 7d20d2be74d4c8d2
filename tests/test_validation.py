"""Fast tier: every invalid answer is rejected by copier.yml's validators before any file is written."""

from __future__ import annotations

import pytest
from conftest import generate

INVALID = [
    ("service_name", "", "must not be empty"),
    ("service_name", "Orders", "DNS-1123"),
    ("service_name", "orders api", "DNS-1123"),
    ("service_name", "x" * 64, "64 characters"),
    ("service_name", "inventory-synchronisation-worker1", "33 characters long"),
    ("database", "oracle", "is not in"),
    ("framework", "flask", "is not in"),
    ("service_name", "orders_api", "DNS-1123"),
    ("module_path", "https://github.com/acme/x", "scheme"),
    ("module_path", "github.com/acme/my service", "spaces"),
    ("module_path", "", "must not be empty"),
    ("http_port", 0, "out of range"),
    ("http_port", 80, "out of range"),
    ("http_port", 70000, "out of range"),
    ("http_port", 9464, "overlaps the admin (metrics) ports 9464-9464"),
    ("go_version", "1.24", "is not in ['1.26', '1.25']"),
    ("go_version", "1.19", "is not in ['1.26', '1.25']"),
    ("shutdown_timeout", 0, "shutdown_timeout must be from 1 to 300"),
    ("shutdown_timeout", 3600, "shutdown_timeout must be from 1 to 300"),
    ("owner", "acme corp", "owner"),
    ("project_name", "", "project_name must not be empty"),
    ("instances", 0, "instances must be from 1 to 16"),
    ("image_registry", "https://ghcr.io/acme", "image_registry"),
    ("description", "x" * 201, "at most 200"),
    ("k8s_edge_namespace", "Ingress_Nginx", "not a Kubernetes namespace name"),
    ("nginx_server_name", "localhost", "not a DNS name"),
    ("nginx_server_name", "Orders.Example.com", "not a DNS name"),
    ("nginx_server_name", "https://orders.example.com", "not a DNS name"),
    ("k8s_edge_namespace", "x" * 64, "not a Kubernetes namespace name"),
    ("k8s_monitoring_namespace", "Monitoring", "not a Kubernetes namespace name"),
    ("k8s_monitoring_namespace", "kube_prometheus", "not a Kubernetes namespace name"),
]


@pytest.mark.parametrize("question,value,message", INVALID, ids=[f"{q}={str(v)[:20]!r}" for q, v, _ in INVALID])
def test_invalid_answer_is_rejected_and_nothing_is_written(tmp_path, question, value, message):
    dst = tmp_path / "out"
    with pytest.raises(ValueError) as excinfo:
        generate(dst, {question: value})
    text = str(excinfo.value)
    # The question at fault, not an earlier one (Copier names it either way).
    assert f"question '{question}'" in text or f"Invalid choice for '{question}'" in text, text
    assert message in text, text
    assert not dst.exists() or not any(dst.iterdir()), f"files were written: {list(dst.rglob('*'))[:5]}"




def test_a_canary_needs_a_database_server(tmp_path):
    """k8s_canary (asked after database) is the question named when SQLite cannot serve a canary."""
    dst = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        generate(dst, {"database": "sqlite", "k8s_canary": True})
    assert "k8s_canary" in str(err.value) and "database=postgres or mysql" in str(err.value)
    assert not dst.exists() or not any(dst.iterdir())


def test_a_hidden_answer_counts_nowhere(tmp_path):
    """instances is asked only with supervisord: without it, its default neither rejects the
    last port nor puts instances that nothing runs in Nginx's host upstream."""
    import yaml

    dst = generate(tmp_path / "out", {"http_port": 65535, "with_supervisord": False})
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert "instances" not in answers
    upstream = (dst / "deploy/nginx/example-service/upstream-host.conf").read_text()
    assert upstream.count("server 127.0.0.1:") == 1 and "127.0.0.1:65535" in upstream, upstream


@pytest.mark.parametrize("answers, unasked", [
    ({"with_docker": False, "with_kubernetes": False}, "image_registry"),
    ({"with_supervisord": False, "with_compose": False}, "with_filebeat"),
])
def test_a_question_nothing_uses_is_not_asked(tmp_path, answers, unasked):
    """No image and no manifests: nothing names a registry. Neither supervisord nor compose:
    Filebeat would have no log to read (and is not generated)."""
    import yaml

    dst = generate(tmp_path / "out", answers)
    recorded = yaml.safe_load((dst / ".copier-answers.yml").read_text())
    assert unasked not in recorded
    if unasked == "with_filebeat":
        assert not (dst / "deploy/filebeat").exists()


@pytest.mark.parametrize("http_port, instances, message, fits", [
    (65535, 2, "exceeds port 65535", None),
    # Instance i listens on http_port + i and has its metrics on 9464 + i: the ranges must not meet.
    (9462, 3, "overlaps the admin (metrics) ports 9464-9466", 2),  # 9462-9463 and 9464-9465 do not meet
])
def test_instances_that_do_not_fit_are_blamed_on_instances(tmp_path, http_port, instances, message, fits):
    dst = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        generate(dst, {"http_port": http_port, "instances": instances})
    assert "question 'instances'" in str(err.value) and message in str(err.value), err.value
    assert not dst.exists() or not any(dst.iterdir())
    if fits:
        generate(dst, {"http_port": http_port, "instances": fits})


@pytest.mark.parametrize("question, value", [("shutdown_timeout", "abc"), ("http_port", "eighty"), ("instances", "two")])
def test_a_value_of_the_wrong_type_is_blamed_on_no_other_question(tmp_path, question, value):
    """Copier's own cast error names no question; it must not name an earlier one either
    (the derived context is rendered while earlier questions are validated)."""
    import re

    dst = tmp_path / "out"
    with pytest.raises(ValueError) as err:
        generate(dst, {question: value})
    text = str(err.value)
    assert value in text, text
    assert set(re.findall(r"question '(\w+)'", text)) <= {question}, text
    assert not dst.exists() or not any(dst.iterdir())
