"""Fast tier: the Python behind copier.yml's validators and the derived settings."""

from __future__ import annotations

import urllib.parse

import pytest

import naming
import settings


@pytest.mark.parametrize("name", ["ab", "orders-api", "a1", "x" * 32, "svc-2-b"])
def test_service_name_accepts_dns1123_labels(name):
    assert naming.validate_service_name(name) == ""


@pytest.mark.parametrize(
    "name",
    ["", "a", "Orders", "orders api", "orders_api", "-orders", "orders-", "1orders", "x" * 33, "x" * 64, "a--b", "ördérs"],
)
def test_service_name_rejects_everything_else(name):
    message = naming.validate_service_name(name)
    assert message.startswith("service_name")
    assert "DNS-1123" in message


@pytest.mark.parametrize(
    "path", ["github.com/acme/orders-api", "p2", "gitlab.example.com/a/b/c", "example.com/x/v2", "corp.internal/A_b~c"]
)
def test_module_path_accepts_go_module_paths(path):
    assert naming.validate_module_path(path) == ""


@pytest.mark.parametrize(
    "path,fragment",
    [
        ("", "must not be empty"),
        ("https://github.com/acme/x", "scheme"),
        ("git@github.com:acme/x", "scheme"),
        ("github.com/acme/my service", "spaces"),
        ("/github.com/acme", "must not start or end"),
        ("github.com/acme/", "must not start or end"),
        ("github.com//acme", "'//'"),
        ("github.com/acme/x!", "may only contain"),
        ("GitHub.com/acme/x", "host"),
        ("github.com/acme/.x", "must not start or end with '.'"),
        ("github.com/acme/con", "reserved"),
    ],
)
def test_module_path_rejections_say_what_is_allowed(path, fragment):
    message = naming.validate_module_path(path)
    assert fragment in message, message
    assert "e.g." in message


@pytest.mark.parametrize("port", [1024, 8080, 65535, "9090"])
def test_port_accepts_unprivileged_ports(port):
    assert naming.validate_port(port) == ""


@pytest.mark.parametrize("port", [0, 80, 1023, 65536, 70000, -1, "http", "80.5", None])
def test_port_rejects_out_of_range_or_non_numbers(port):
    message = naming.validate_port(port)
    assert "1024" in message and "65535" in message


def test_go_versions_are_the_supported_releases():
    assert naming.SUPPORTED_GO_VERSIONS == ("1.26", "1.25")
    for bad in ("1.24", "1.27", "2.0", "", "1.26.1"):
        assert "not supported" in naming.validate_go_version(bad)


@pytest.mark.parametrize("owner", ["acme", "Shop-Team", "a"])
def test_owner_ok(owner):
    assert naming.validate_owner(owner) == ""


@pytest.mark.parametrize("owner", ["", "-acme", "acme corp", "a/b", "x" * 40])
def test_owner_rejected(owner):
    assert naming.validate_owner(owner).startswith("owner")


@pytest.mark.parametrize("registry", ["ghcr.io/acme", "registry.example.com:5000/shop/team", "localhost/x"])
def test_registry_ok(registry):
    assert naming.validate_image_registry(registry) == ""


@pytest.mark.parametrize("registry", ["", "https://ghcr.io/acme", "ghcr.io/Acme", "ghcr.io/acme/", "ghcr io"])
def test_registry_rejected(registry):
    assert naming.validate_image_registry(registry).startswith("image_registry")


def test_project_name_rules():
    assert naming.validate_project_name("Orders API") == ""
    assert "empty" in naming.validate_project_name("  ")
    assert "64" in naming.validate_project_name("x" * 65)
    assert "quotes" in naming.validate_project_name('Say "hi"')


@pytest.mark.parametrize(
    "project,slug",
    [("Example Service", "example-service"), ("Orders API v2", "orders-api-v2"), ("  42 Things!", "things"), ("", "service")],
)
def test_slugify_gives_a_valid_service_name(project, slug):
    assert naming.slugify(project) == slug
    assert naming.validate_service_name(slug) == ""


def test_derived_names():
    assert naming.env_prefix("orders-api") == "ORDERS_API"
    assert naming.go_identifier("orders-api") == "ordersapi"
    assert naming.go_identifier("9lives") == "svc9lives"
    assert naming.title_words("orders-api") == "Orders Api"


def test_upstream_ports_are_consecutive_and_bounded():
    assert naming.upstream_ports(8080, 3) == [8080, 8081, 8082]
    with pytest.raises(ValueError):
        naming.upstream_ports(65535, 2)
    assert settings.validate_instances(2, 65535).startswith("instances")
    assert settings.validate_instances(0, 8080).startswith("instances")
    assert settings.validate_instances(4, 8080) == ""


def test_license_texts():
    for license_id in naming.LICENSES:
        text = naming.license_text(license_id, "acme", 2030)
        assert "{owner}" not in text and "{year}" not in text
    assert "Copyright (c) 2030 acme" in naming.license_text("MIT", "acme", 2030)
    assert "Apache License" in naming.license_text("Apache-2.0", "acme")
    with pytest.raises(ValueError):
        naming.license_text("WTFPL", "acme")


def answers(**over):
    base = {"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 20, "owner": "acme", "instances": 3}
    base.update(over)
    return base


def test_derive_grace_periods_exceed_the_shutdown_timeout():
    cg = settings.derive(answers(shutdown_timeout=45))
    assert cg["shutdown_timeout_s"] == 45
    assert cg["stop_grace_s"] > 45
    assert cg["k8s_termination_grace_s"] >= cg["k8s_prestop_sleep_s"] + 45 + 1


def test_derive_env_list_matches_prefix_and_defaults():
    cg = settings.derive(answers())
    assert cg["env_prefix"] == "ORDERS_API"
    assert all(var.startswith("ORDERS_API_") for var in cg["env"].values())
    assert cg["config_defaults"]["HTTP_PORT"] == "9090"
    assert cg["config_defaults"]["SHUTDOWN_TIMEOUT"] == "20s"
    assert [f["key"] for f in cg["config_fields"]] == list(cg["env"])
    assert cg["upstream_ports"] == [9090, 9091, 9092]
    assert cg["image"] == "ghcr.io/acme/orders-api"


def test_build_tags_drop_msgpack_and_embed_tzdata_only_on_scratch():
    assert settings.derive(answers())["go_build_tags"] == "nomsgpack"
    assert settings.derive(answers(runtime_image="distroless"))["image_go_build_tags"] == "nomsgpack"
    assert settings.derive(answers(runtime_image="scratch"))["image_go_build_tags"] == "nomsgpack,timetzdata"


@pytest.mark.parametrize("value, ok", [("ingress-nginx", True), ("a", True), ("x" * 63, True), ("x" * 64, False),
                                       ("Ingress", False), ("-edge", False), ("edge-", False), ("", False)])
def test_validate_namespace(value, ok):
    assert (naming.validate_namespace(value) == "") is ok


def test_network_policy_namespaces_follow_routing_and_canary():
    base = {"service_name": "svc", "http_port": 8080, "shutdown_timeout": 20, "owner": "acme"}
    assert settings.derive({**base, "k8s_routing": "ingress"})["k8s_ingress_namespaces"] == ["ingress-nginx"]
    assert settings.derive({**base, "k8s_routing": "gateway"})["k8s_ingress_namespaces"] == ["envoy-gateway-system"]
    both = settings.derive({**base, "k8s_edge_namespace": "edge", "k8s_canary": True})
    assert both["k8s_ingress_namespaces"] == ["edge", "argo-rollouts"]


@pytest.mark.parametrize("value, ok", [("orders.example.com", True), ("a.b", True), ("localhost", False),
                                       ("Orders.example.com", False), ("x..y", False), ("a-.b", False),
                                       ("https://a.b", False), (("a" * 63 + ".") * 4 + "b", False)])
def test_validate_hostname(value, ok):
    assert (naming.validate_hostname(value) == "") is ok


# ---------------------------------------------------------------- data_deploy (the data answers' deployment side)
@pytest.mark.parametrize("engine", ["none", "sqlite", "postgres", "mysql"])
@pytest.mark.parametrize("redis", [False, True])
def test_data_deploy_values_agree(engine, redis):
    cg = settings.derive({"service_name": "orders-api", "http_port": 8080, "shutdown_timeout": 5, "owner": "x",
                          "database": engine, "redis": redis})
    dd = cg["data_deploy"]
    assert dd["enabled"] == (engine != "none" or redis)
    assert dd["secret_vars"] == (["ORDERS_API_DATABASE_URL"] if engine != "none" else []) + \
        (["ORDERS_API_REDIS_URL"] if redis else [])
    # The secrets are never among the settings that go into a ConfigMap.
    for var in dd["secret_vars"]:
        assert var not in dd["db"]["settings_env"] and var not in dd["redis"]["settings_env"]
    compose = dd["compose"]
    assert bool(compose["db"]) == (engine in ("postgres", "mysql")) == dd["db"]["server"]
    assert ("migrate" in compose["app_depends_on"]) == (engine != "none")
    assert ("redis" in compose["app_depends_on"]) == redis
    if compose["db"]:
        # The app's compose URL carries the server's example password, user and database.
        url = urllib.parse.urlsplit(compose["secrets_examples"]["app"]["ORDERS_API_DATABASE_URL"])
        assert url.hostname == "db" and url.port == cg["db"]["port"]
        assert url.password in compose["db"]["secret_env"].values()
        assert url.username in compose["db"]["env"].values() and url.path.lstrip("/") in compose["db"]["env"].values()
        assert compose["migrate_depends_on"] == {"db": "service_healthy"}
    if redis:
        url = urllib.parse.urlsplit(compose["secrets_examples"]["app"]["ORDERS_API_REDIS_URL"])
        assert url.hostname == "redis" and url.password == compose["secrets_examples"]["redis"]["REDIS_PASSWORD"]
        # The password reaches redis-server from the environment, not from compose.yaml.
        assert settings.COMPOSE_DEV_PASSWORD not in " ".join(compose["redis"]["command"])
    if engine == "sqlite":
        assert compose["app_volumes"] == ["data:/var/lib/orders-api"]
        assert dd["db"]["sqlite_url"] == "file:/var/lib/orders-api/orders-api.db" == cg["db"]["compose_url"]
        assert dd["k8s_components"][0] == "sqlite"
    # The database component comes last: its init container copies the app container.
    if engine != "none":
        assert dd["k8s_components"][-1] == "database"
        assert dd["host_migrate_command"].split()[:3] == [cg["host"]["bin_path"], "migrate", "up"]
    else:
        assert "database" not in dd["k8s_components"] and not dd["host_migrate_command"]


def test_the_longest_service_name_fits_everything_derived_from_it():
    """Every name derived from the longest accepted service_name is valid where it lands."""
    name = "a" + "-b" * ((naming.SERVICE_NAME_MAX - 1) // 2)
    name = name + "c" * (naming.SERVICE_NAME_MAX - len(name))
    assert len(name) == naming.SERVICE_NAME_MAX and naming.validate_service_name(name) == ""
    for database in ("mysql", "postgres"):
        cg = settings.derive({"service_name": name, "http_port": 8080, "shutdown_timeout": 20, "owner": "acme",
                              "database": database, "redis": True})
        for namespace in cg["k8s_namespaces"].values():
            assert naming.validate_namespace(namespace) == "", namespace
        assert len(cg["host"]["user"]) <= 32, "useradd refuses longer user names"
        assert len(cg["db"]["user"]) <= 32 and len(cg["db"]["name"]) <= 63, "MySQL user names: 32, database names: 64"
        assert len(cg["db"]["k8s_secret"]) <= 253 and len(cg["redis"]["k8s_secret"]) <= 253


# ---------------------------------------------------------------- monitoring (observability's deployment side)
import json  # noqa: E402

import monitoring  # noqa: E402


@pytest.mark.parametrize("text, total", [("15s", 15), ("2m", 120), ("1h30m", 5400), ("10m", 600)])
def test_prometheus_durations_round_trip(text, total):
    assert monitoring.seconds(text) == total
    assert monitoring.duration(total) == text


@pytest.mark.parametrize("text", ["", "2", "2 m", "m2", "1.5m"])
def test_prometheus_durations_reject_what_prometheus_rejects(text):
    with pytest.raises(ValueError):
        monitoring.seconds(text)


def obs_of(**extra) -> dict:
    return settings.derive({"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 20, "owner": "x",
                            "instances": 3, **extra})["obs"]


def test_alert_texts_fit_the_rules_and_their_tests():
    """The texts go into double-quoted or folded YAML, wrapped at spaces: no quote, no
    backslash, and Prometheus's label templates without inner spaces."""
    obs = obs_of()
    assert [a["alert"] for a in obs["alerts"].values()] == [
        "HTTPErrorRatioHigh", "HTTPLatencyP99High", "TargetDown", "FrequentRestarts"]
    for alert in obs["alerts"].values():
        for text in (alert["summary"], alert["description"]):
            assert '"' not in text and "\\" not in text and "  " not in text, text
            assert "{{$labels.job}}" in text and "{{ " not in text, text
    assert obs["alerts"]["error_ratio"]["summary"] == "{{$labels.job}}: more than 5% of requests fail with 5xx"
    expected = obs["rules_tests"]["target_down"]["expected"]
    assert expected["annotations"]["summary"] == "orders-api: 127.0.0.1:9464 cannot be scraped"
    assert expected["labels"] == {"severity": "critical", "job": "orders-api", "instance": "127.0.0.1:9464"}


def test_rules_tests_straddle_each_threshold():
    obs = obs_of()
    t, rt = obs["thresholds"], obs["rules_tests"]
    er = rt["error_ratio"]
    assert float(er["below_pct"]) < t["error_ratio_max"] * 100 < float(er["above_pct"])
    # Held back 30 s before `for` has passed since the window filled, firing once it has.
    fires, not_yet = monitoring.seconds(er["fires"]), monitoring.seconds(er["not_yet"])
    assert fires - not_yet == 30
    assert not_yet - 5 * 60 - monitoring.seconds(monitoring.ERROR_RATIO_WINDOW) == monitoring.seconds(t["error_ratio_for"]) - 30
    # The "above" run: the 2xx and 5xx counters grow as said, after 5 minutes without errors.
    assert er["series_ok"] == "0+1000x20 20940+940x31" and er["series_5xx"] == "0+0x20 60+60x31"
    lat = rt["latency"]
    assert float(lat["fast_le"]) < t["latency_p99_max_s"] < float(lat["slow_le"])
    assert monitoring.seconds(lat["not_yet"]) == monitoring.seconds(t["latency_p99_for"])
    # Restarts: one instance more than the limit, one at it.
    r = rt["restarts"]
    assert len(set(r["many"].split())) - 1 == t["restarts_max"] + 1
    assert len(set(r["few"].split())) - 1 == t["restarts_max"]
    assert monitoring.seconds(r["check"]) <= r["window_s"]


def test_obs_deployment_values_follow_the_answers():
    obs = obs_of()
    assert obs["host_targets"] == ["127.0.0.1:9464", "127.0.0.1:9465", "127.0.0.1:9466"]
    assert obs["k8s"]["prometheus_url"] == "http://prometheus-operated.monitoring.svc:9090"
    assert obs_of(k8s_monitoring_namespace="prom")["k8s"]["prometheus_url"] == "http://prometheus-operated.prom.svc:9090"
    assert obs["records"]["error_ratio"] == "namespace_job:http_server_requests_5xx:ratio_rate1m"
    assert obs["compose"]["scrape_name"] == settings.COMPOSE_APP_SERVICE
    for image in obs["images"].values():
        assert ":" in image and not image.endswith(":latest")
    # The dashboard: the JSON both deployments ship is this document; panels by the answers.
    assert json.loads(obs["dashboard_json"]) == obs["dashboard"]
    titles = {p["title"] for p in obs["dashboard"]["panels"]}
    assert {"Error ratio (5xx)", "Duration p50, p90, p99", "Requests in flight", "Goroutines", "Heap in use", "CPU",
            "Resident memory", "Restarts"} <= titles
    assert "Database pool" not in titles and "Redis pool" not in titles
    both = {p["title"] for p in obs_of(database="postgres", redis=True)["dashboard"]["panels"]}
    assert {"Database pool", "Database pool wait", "Redis pool", "Redis hits and misses"} <= both


def test_bare_host_instances_get_their_own_ports_and_keep_their_log_names():
    cg = settings.derive({"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 20, "owner": "x",
                          "instances": 2})
    assert cg["host"]["instances"] == [
        {"program": "orders-api-9090", "http_port": 9090, "admin_port": 9464,
         "stdout_log": "/var/log/orders-api/orders-api-9090.log",
         "stderr_log": "/var/log/orders-api/orders-api-9090.stderr.log"},
        {"program": "orders-api-9091", "http_port": 9091, "admin_port": 9465,
         "stdout_log": "/var/log/orders-api/orders-api-9091.log",
         "stderr_log": "/var/log/orders-api/orders-api-9091.stderr.log"},
    ]
    assert [i["stdout_log"] for i in cg["host"]["instances"]] == cg["host"]["stdout_logs"]
    assert [i["admin_port"] for i in cg["host"]["instances"]] == cg["obs"]["host_admin_ports"]


def test_monitoring_namespace_rejections_name_the_question():
    assert naming.validate_namespace("monitoring", "k8s_monitoring_namespace") == ""
    assert naming.validate_namespace("Monitoring", "k8s_monitoring_namespace").startswith("k8s_monitoring_namespace ")


@pytest.mark.parametrize("src, warns", [
    ("main", True), ("../copier-gin", True), ("./copier-gin", True), ("templates/copier-gin", True),
    ("/srv/templates/copier-gin", False), ("~/copier-gin", False), ("https://example.com/acme/copier-gin.git", False),
    ("git+ssh://git@example.com/acme/copier-gin.git", False), ("git@example.com:acme/copier-gin.git", False),
    ("gh:acme/copier-gin", False), ("", False),
])
def test_a_relative_template_path_is_warned_about(src, warns):
    """Copier records _src_path as written: a relative one breaks `copier update` elsewhere."""
    message = naming.src_path_warning(src)
    assert bool(message) is warns, message
    if warns:
        assert repr(src) in message and "_src_path" in message and "docs/updating.md" in message


# ------------------------------------------------------------------ logstash (filebeat_output logstash, kafka)
def _cg(**answers):
    return settings.derive({"service_name": "orders-api", "http_port": 9090, "shutdown_timeout": 5, "owner": "x",
                            **answers})


@pytest.mark.parametrize("answers,enabled", [
    ({}, False), ({"filebeat_output": "elasticsearch"}, False), ({"filebeat_output": "logstash"}, True),
    ({"filebeat_output": "kafka"}, True), ({"filebeat_output": "kafka", "with_filebeat": False}, False),
])
def test_logstash_pipeline_only_when_filebeat_ships_to_logstash_or_kafka(answers, enabled):
    assert _cg(**answers)["logstash"]["enabled"] is enabled


def test_logstash_names_agree_with_each_other():
    ls = _cg(filebeat_output="kafka")["logstash"]
    # A dataset may not hold "-": the data stream's name would not split into its three parts.
    assert ls["data_stream"] == {"type": "logs", "dataset": "orders_api", "namespace": "default",
                                 "pattern": "logs-orders_api-*"}
    template, policy = json.loads(ls["index_template_json"]), json.loads(ls["ilm_policy_json"])
    assert template["index_patterns"] == [ls["data_stream"]["pattern"]]
    assert template["template"]["settings"]["index.lifecycle.name"] == ls["ilm_policy_name"] == "orders-api-logs"
    assert template["priority"] > 100, "above the built-in logs-*-* template"
    assert policy["policy"]["phases"]["delete"]["min_age"] == f"{ls['retention_days']}d"
    assert ls["kafka_topic"] == "orders-api-logs" and ls["pipeline_path"] == "/etc/logstash/pipelines/orders-api.conf"
    assert ls["env"]["tls_cert"] == {"var": "LOGSTASH_TLS_CERT", "default": "/etc/logstash/tls/orders-api.crt",
                                     "ref": "${LOGSTASH_TLS_CERT:/etc/logstash/tls/orders-api.crt}"}
    assert ls["env"]["es_api_key"] == {"var": "ELASTICSEARCH_API_KEY", "default": "", "ref": "${ELASTICSEARCH_API_KEY}"}
    assert ls["env_keys"][:5] == ["kafka_hosts", "kafka_username", "kafka_password", "kafka_protocol", "kafka_ca"]
    assert _cg(filebeat_output="logstash")["logstash"]["env_keys"][:4] == ["beats_port", "tls", "tls_cert", "tls_key"]


def test_logstash_maps_the_service_fields_under_their_shipped_names():
    cg = _cg(filebeat_output="logstash")
    fields = cg["logstash"]["fields"]
    renames = dict(map(tuple, cg["filebeat"]["ecs_renames"]))
    for key, kind in settings.logstash.SERVICE_LOG_FIELDS:
        assert fields[renames.get(key, key)] == kind
        assert key not in renames or key not in fields, f"{key} is shipped as {renames[key]}, not under its own name"
    assert fields["log.level"] == "keyword" and fields["http.response.status_code"] == "long"
    assert fields["client.ip"] == "ip" and fields["latency_ms"] == "double" and fields["trace.id"] == "keyword"
    props = json.loads(cg["logstash"]["index_template_json"])["template"]["mappings"]["properties"]
    assert props["http"]["properties"]["request"]["properties"]["id"]["type"] == "keyword"
    assert props["user_agent"]["properties"]["original"]["type"] == "keyword"


def test_logstash_properties_nest_dotted_names():
    assert settings.logstash.properties({"a.b": "long", "a.c": "keyword", "d": "ip"}) == {
        "a": {"properties": {"b": {"type": "long"}, "c": {"type": "keyword", "ignore_above": 1024}}},
        "d": {"type": "ip"}}


# --------------------------------------------------------------------------- framework

framework = settings.framework


@pytest.mark.parametrize("value", ["gin", "echo"])
def test_framework_validator_accepts_the_choices(value):
    assert framework.validate_framework(value) == ""


@pytest.mark.parametrize("value", ["flask", "", None, "Gin", "echo/v5"])
def test_framework_validator_names_the_choices(value):
    shown = "" if value is None else value
    assert framework.validate_framework(value) == f"framework '{shown}' is not offered; choose one of gin, echo."


def test_framework_validator_refuses_a_change_from_the_answers_file(tmp_path):
    """What a change made at an update's prompt, or a recopy, meets: the destination's
    answers file records the framework the team's handlers are written for."""
    (tmp_path / ".copier-answers.yml").write_text("_commit: 0.2.0\nframework: echo\n")
    assert framework.validate_framework("echo", tmp_path, ".copier-answers.yml") == ""
    message = framework.validate_framework("gin", tmp_path, ".copier-answers.yml")
    assert message.startswith("framework cannot change from echo to gin in an update.") and "\n" not in message
    assert "written for Echo" in message and "start a new service with framework=gin." in message
    # Before the question existed: Gin.
    (tmp_path / ".copier-answers.yml").write_text("_commit: 0.1.0\nservice_name: orders-api\n")
    assert framework.validate_framework("gin", tmp_path, ".copier-answers.yml") == ""
    assert "from gin to echo" in framework.validate_framework("echo", tmp_path, ".copier-answers.yml")
    # A new service (no answers file yet), or one Copier renders in a temporary directory.
    assert framework.validate_framework("echo", tmp_path / "new", ".copier-answers.yml") == ""
    # A choice not offered is named as such, whatever the answers file says.
    assert "not offered" in framework.validate_framework("flask", tmp_path, ".copier-answers.yml")


def test_framework_recorded_reads_the_answers_file(tmp_path):
    path = tmp_path / "answers.yml"
    assert framework.recorded(path) is None
    for text, expected in [("framework: echo\n", "echo"), ("framework: gin\n", "gin"), ("service_name: x\n", "gin"),
                           ("framework:\n", "gin"), ("[not, a, mapping]\n", None), ("a: [unclosed\n", None)]:
        path.write_text(text)
        assert framework.recorded(path) == expected, text


def test_framework_refusal_says_why_and_what_to_do():
    assert framework.refusal("gin", "gin") == "" and framework.refusal("gin", "") == ""
    message = framework.refusal("gin", "echo")
    lines = message.splitlines()
    assert lines[0] == "framework cannot change from gin to echo in an update."
    assert all(len(line) <= 100 for line in lines) and message.endswith("\n")
    for text in ("internal/api/", "internal/products/", "written for Gin", "never rewrites team-owned files",
                 "Nothing was changed", "port the\nhandlers to it by hand", "start a new service with framework=echo."):
        assert text in message, text


@pytest.mark.parametrize("recorded", [{}, {"framework": None}, {"framework": ""}, {"framework": "gin"},
                                      {"framework": "flask"}])
def test_framework_name_defaults_to_gin(recorded):
    """Services generated before the question have no answer: they are on Gin."""
    assert framework.name({"service_name": "x", **recorded}) == "gin"
    assert framework.name({"framework": "echo"}) == "echo"


@pytest.mark.parametrize("key", ["gin", "echo"])
def test_framework_http_names_what_the_templates_write(key):
    http = framework.http({"framework": key})
    assert http["framework"] == key and http[key] is True and http["gin" if key == "echo" else "echo"] is False
    assert http["title"] == {"gin": "Gin", "echo": "Echo"}[key]
    # go-playground/validator reads this tag: Gin's binding package reads `binding`.
    assert http["validate_tag"] == {"gin": "binding", "echo": "validate"}[key]
    assert framework.settings({"framework": key}) == (
        (("GIN_MODE", "release", "release, debug or test."),) if key == "gin" else ())
    assert settings.derive(answers(framework=key))["http"] == http


@pytest.mark.parametrize("key", ["gin", "echo"])
def test_framework_go_requires_its_module_first(key):
    requires = framework.go_requires({"framework": key})
    module = framework.FRAMEWORKS[key]["module"]
    assert len(requires) == 1 and requires[0].startswith(module + "@v")
    cg = settings.derive(answers(framework=key))
    assert cg["go_requires"][0] == requires[0]
    other = framework.FRAMEWORKS["echo" if key == "gin" else "gin"]["module"]
    assert not [r for r in cg["go_requires"] if r.startswith(other + "@")]
    assert module in dict(cg["go_mod_requires"])


def test_framework_settings_reach_the_go_config_but_no_deployment_file():
    gin, echo = (settings.derive(answers(framework=key)) for key in ("gin", "echo"))
    assert framework.settings({}) == (("GIN_MODE", "release", "release, debug or test."),)
    assert framework.settings({"framework": "echo"}) == ()
    assert gin["config_defaults"]["GIN_MODE"] == "release" and gin["env"]["GIN_MODE"] == "ORDERS_API_GIN_MODE"
    assert "GIN_MODE" not in echo["config_defaults"] and "GIN_MODE" not in echo["env"]
    # Right before TRUSTED_PROXIES in the Go config and .env.example.
    keys = [f["key"] for f in gin["config_fields"]]
    assert keys[keys.index("GIN_MODE") + 1] == "TRUSTED_PROXIES"
    # What the deployment files read: the same for both frameworks.
    assert "GIN_MODE" not in gin["deploy_config_defaults"]
    assert gin["deploy_config_defaults"] == echo["deploy_config_defaults"] == echo["config_defaults"]


def test_framework_prefixes_the_go_module_lock_key():
    assert settings.gomod_key({"database": "sqlite"}) == "sqlite-noredis"
    assert settings.gomod_key({"framework": "echo", "database": "sqlite"}) == "echo-sqlite-noredis"
