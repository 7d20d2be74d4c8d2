"""Logstash between Filebeat and Elasticsearch (filebeat_output: logstash or kafka).

Filebeat already decodes each of the service's JSON lines and gives its keys their Elastic
Common Schema names (settings.FILEBEAT_ECS_RENAMES): the pipeline (deploy/logstash/) parses
nothing again. It reads what Filebeat sends (the beats protocol, or Kafka records that
Filebeat's kafka output writes as JSON), and writes a data stream whose index template maps
the fields below. `logstash(cg, answers)` gives the templates `cg.logstash`; the tests read
the same values (tests/test_logstash.py). Nothing here depends on Copier.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

# The keys the service's JSON lines carry as it writes them (internal/logging: every line
# has time, level and msg; request_id and trace_id when logged within a request or a span;
# LogRequest's access line the request's keys; a failure error and, for a panic, stack),
# each with the Elasticsearch type of its value. Filebeat renames some (FILEBEAT_ECS_RENAMES);
# the index template maps each under the name it is shipped with.
SERVICE_LOG_FIELDS = (
    ("time", "date"),
    ("level", "keyword"),
    ("msg", "keyword"),
    ("request_id", "keyword"),
    ("trace_id", "keyword"),
    ("method", "keyword"),
    ("route", "keyword"),
    ("path", "wildcard"),
    ("status", "long"),
    ("latency_ms", "double"),
    ("client_ip", "ip"),
    ("bytes", "long"),
    ("user_agent", "keyword"),
    ("error", "match_only_text"),
    ("stack", "wildcard"),
)
# What Filebeat adds to every event of filebeat.yml's inputs and processors (the event
# time, the ndjson parser's copy of msg, its message_key, in message, add_fields'
# service.name, the file and offset, the container parser's stream, add_host_metadata, its
# own agent.* and ecs.version, the ndjson parser's error.type), and the tags Logstash adds
# to a record it could not decode.
SHIPPER_FIELDS = (
    ("@timestamp", "date"),
    ("message", "match_only_text"),
    ("service.name", "keyword"),
    ("log.file.path", "keyword"),
    ("log.offset", "long"),
    ("input.type", "keyword"),
    ("stream", "keyword"),
    ("ecs.version", "keyword"),
    ("agent.name", "keyword"),
    ("agent.type", "keyword"),
    ("agent.version", "keyword"),
    ("agent.id", "keyword"),
    ("agent.ephemeral_id", "keyword"),
    ("agent.hostname", "keyword"),
    ("host.name", "keyword"),
    ("host.hostname", "keyword"),
    ("host.id", "keyword"),
    ("host.architecture", "keyword"),
    ("host.ip", "ip"),
    ("host.mac", "keyword"),
    ("host.containerized", "boolean"),
    ("host.os.type", "keyword"),
    ("host.os.family", "keyword"),
    ("host.os.name", "keyword"),
    ("host.os.kernel", "keyword"),
    ("host.os.codename", "keyword"),
    ("host.os.platform", "keyword"),
    ("host.os.version", "keyword"),
    ("error.type", "keyword"),
    ("tags", "keyword"),
)
# Any other key (a team's own attributes, the template's per-message ones like `addr` or
# `elapsed`) is mapped when first seen, as a keyword whatever its JSON type: a key that is
# a number in one line and text in another then never makes Elasticsearch reject a line.
DYNAMIC_KEYWORD_TYPES = ("string", "long", "double", "boolean")
KEYWORD_IGNORE_ABOVE = 1024

# The data stream: logs-<dataset>-<namespace>. A dataset may not hold "-" (it separates the
# three parts), so the service's name gets "_" there.
DATA_STREAM_TYPE = "logs"
DATA_STREAM_NAMESPACE = "default"
# Above the built-in logs-*-* template (priority 100), so this one applies.
INDEX_TEMPLATE_PRIORITY = 200
# ILM: a new backing index every day or at 50 GB per primary shard, deleted this many days
# after its rollover (the documented default; change it in Elasticsearch, see docs/deployment.md).
ROLLOVER_MAX_AGE = "1d"
ROLLOVER_MAX_PRIMARY_SHARD_SIZE = "50gb"
RETENTION_DAYS = 30

# Where a Debian/RPM Logstash package keeps things, and the environment the pipeline reads
# (Logstash's ${NAME} / ${NAME:default} substitution; a systemd drop-in gives it the file).
HOST_DIR = "/etc/logstash"
BEATS_PORT = 5044
SYSTEM_CA = "/etc/ssl/certs/ca-certificates.crt"
# key: (variable, default or None when it must be set). The CA bundles default to the
# system's; TLS is on unless said otherwise, as Filebeat's FILEBEAT_TLS.
ENV = {
    "es_hosts": ("ELASTICSEARCH_HOSTS", None),
    "es_api_key": ("ELASTICSEARCH_API_KEY", None),
    "es_ca": ("ELASTICSEARCH_TLS_CA", SYSTEM_CA),
    "namespace": ("LOGSTASH_DATA_STREAM_NAMESPACE", DATA_STREAM_NAMESPACE),
    "beats_port": ("LOGSTASH_BEATS_PORT", str(BEATS_PORT)),
    "tls": ("LOGSTASH_TLS", "true"),
    "tls_cert": ("LOGSTASH_TLS_CERT", HOST_DIR + "/tls/{service}.crt"),
    "tls_key": ("LOGSTASH_TLS_KEY", HOST_DIR + "/tls/{service}.key"),
    "kafka_hosts": ("KAFKA_HOSTS", None),
    "kafka_username": ("KAFKA_USERNAME", None),
    "kafka_password": ("KAFKA_PASSWORD", None),
    "kafka_protocol": ("KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
    "kafka_ca": ("KAFKA_TLS_CA", SYSTEM_CA),
}
# The variables each input reads (the output's are read by both).
INPUT_ENV = {
    "logstash": ("beats_port", "tls", "tls_cert", "tls_key"),
    "kafka": ("kafka_hosts", "kafka_username", "kafka_password", "kafka_protocol", "kafka_ca"),
}
OUTPUT_ENV = ("es_hosts", "es_api_key", "es_ca", "namespace")


def enabled(answers: Mapping[str, Any]) -> bool:
    """A pipeline exists when Filebeat ships to Logstash, or to Kafka (Logstash reads it there)."""
    return bool(answers.get("with_filebeat", True)) and answers.get("filebeat_output") in ("logstash", "kafka")


def shipped_name(key: str, renames) -> str:
    """The name a key of the service's lines has once Filebeat renamed it."""
    return dict((src, dst) for src, dst in renames).get(key, key)


def field_types(renames) -> dict[str, str]:
    """Every explicitly mapped field (dotted name) and its type: the service's, as shipped,
    then what Filebeat and Logstash add."""
    fields = {shipped_name(key, renames): kind for key, kind in SERVICE_LOG_FIELDS}
    for name, kind in SHIPPER_FIELDS:
        fields.setdefault(name, kind)
    fields["data_stream.type"] = fields["data_stream.dataset"] = fields["data_stream.namespace"] = "constant_keyword"
    return fields


def _mapping(kind: str) -> dict[str, Any]:
    if kind == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    return {"type": kind}


def properties(fields: Mapping[str, str]) -> dict[str, Any]:
    """Dotted names and types as an Elasticsearch mapping's nested `properties`."""
    root: dict[str, Any] = {}
    for name, kind in sorted(fields.items()):
        node = root
        parts = name.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = _mapping(kind)
    return root


def custom_component(service: str) -> str:
    return f"{service}-logs@custom"


def index_template(service: str, data_stream_pattern: str, policy: str, renames) -> dict[str, Any]:
    """The composable index template of the service's data streams (any namespace)."""
    return {
        "index_patterns": [data_stream_pattern],
        "data_stream": {},
        "priority": INDEX_TEMPLATE_PRIORITY,
        # The team's seam, on the cluster rather than in a file: mappings and settings of its
        # own fields in this component template, used when it exists (Elasticsearch 8.7+).
        # The mappings below win over it for the fields they name.
        "composed_of": [custom_component(service)],
        "ignore_missing_component_templates": [custom_component(service)],
        "template": {
            "settings": {
                "index.lifecycle.name": policy,
                # A value of the wrong type (a team's `status: "ok"`) loses that field, not the line.
                "index.mapping.ignore_malformed": True,
            },
            "mappings": {
                "dynamic": True,
                "date_detection": False,
                "dynamic_templates": [
                    {f"{kind}_as_keyword": {"match_mapping_type": kind, "mapping": _mapping("keyword")}}
                    for kind in DYNAMIC_KEYWORD_TYPES
                ],
                "properties": properties(field_types(renames)),
            },
        },
        "_meta": {"description": f"{service}'s logs, as Filebeat ships them through Logstash",
                  "managed_by": "copier-gin"},
    }


def ilm_policy(service: str) -> dict[str, Any]:
    return {
        "policy": {
            "phases": {
                "hot": {
                    "min_age": "0ms",
                    "actions": {"rollover": {"max_age": ROLLOVER_MAX_AGE,
                                             "max_primary_shard_size": ROLLOVER_MAX_PRIMARY_SHARD_SIZE}},
                },
                "delete": {"min_age": f"{RETENTION_DAYS}d", "actions": {"delete": {}}},
            },
            "_meta": {"description": f"{service}'s logs: rolled over daily, deleted after {RETENTION_DAYS} days",
                      "managed_by": "copier-gin"},
        }
    }


def logstash(cg: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """cg.logstash; `cg` is derive()'s output so far (its filebeat values included)."""
    service = cg["service"]
    renames = cg["filebeat"]["ecs_renames"]
    dataset = service.replace("-", "_")
    policy = f"{service}-logs"
    pattern = f"{DATA_STREAM_TYPE}-{dataset}-*"
    input_ = str(answers.get("filebeat_output") or "elasticsearch")
    return {
        "enabled": enabled(answers),
        "input": input_,
        "pipeline_id": service,
        "pipeline_path": f"{HOST_DIR}/pipelines/{service}.conf",
        "host_dir": HOST_DIR,
        "host_env_file": f"{HOST_DIR}/{service}.env",
        "host_dropin": f"/etc/systemd/system/logstash.service.d/{service}.conf",
        # Each variable the pipeline reads, its default ("" when it must be set), and the
        # reference the pipeline holds (Logstash's ${NAME} or ${NAME:default}).
        "env": {key: {"var": var, "default": (default or "").format(service=service),
                      "ref": f"${{{var}:{default.format(service=service)}}}" if default else f"${{{var}}}"}
                for key, (var, default) in ENV.items()},
        "env_keys": [*INPUT_ENV.get(input_, ()), *OUTPUT_ENV],
        # The topic filebeat.yml's kafka output writes, and the consumer group that reads it.
        "kafka_topic": f"{service}-logs",
        "kafka_group": f"{service}-logstash",
        "data_stream": {"type": DATA_STREAM_TYPE, "dataset": dataset, "namespace": DATA_STREAM_NAMESPACE,
                        "pattern": pattern},
        "index_template_name": f"{service}-logs",
        "custom_component": custom_component(service),
        "ilm_policy_name": policy,
        "retention_days": RETENTION_DAYS,
        "rollover": {"max_age": ROLLOVER_MAX_AGE, "max_primary_shard_size": ROLLOVER_MAX_PRIMARY_SHARD_SIZE},
        "fields": field_types(renames),
        "index_template_json": json.dumps(index_template(service, pattern, policy, renames), indent=2) + "\n",
        "ilm_policy_json": json.dumps(ilm_policy(service), indent=2) + "\n",
    }
