"""The Logstash pipeline (deploy/logstash/, filebeat_output logstash or kafka), checked offline.

No Logstash can be had here (it needs JRuby and Elastic's own packages; no PyPI, npm, Debian
or Maven package ships it or its plugins), so `logstash --config.test_and_exit` cannot run.
What is checked instead:

- the pipeline's syntax, by a parser of Logstash's configuration language written here
  (sections, plugins, attributes, hash/array/string/number/bareword values, comments,
  conditionals); typical mistakes made to the real file are rejected;
- its input against the generated filebeat.yml's output: the Kafka topic, brokers,
  credentials and codec (Filebeat's kafka output writes JSON, so `codec => json`), the beats
  input's TLS defaults against Filebeat's;
- its output: a data stream whose name the index template's pattern matches, TLS verified,
  credentials from the environment, only options Logstash accepts in data stream mode;
  every variable it reads documented in docs/deployment.md;
- index-template.json and ilm-policy.json: their structure and names, and their keys and
  value types against Elasticsearch's API as the official client's TypeScript types
  describe it (tsc, scripts/bootstrap.d/79-es-types.sh);
- the real thing end to end: the generated service's real log lines, shipped by Filebeat
  itself (7.17, scripts/bootstrap.d/79-filebeat.sh) with the generated filebeat.yml, read
  as each input would, through the pipeline's filter, against the index template: every
  field mapped with a compatible type, every field the filter names present.

Each check is shown failing on a typical mistake (the `mutation` tests).
"""

from __future__ import annotations

import copy
import fnmatch
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

import deploy_tools as dt
from conftest import ROOT, TOOLS_BIN, free_port, generate, go_env
from otlp import OTLPReceiver

sys.path.insert(0, str(ROOT / "extensions"))
import settings  # noqa: E402

logstash = settings.logstash
OUTPUTS = ("logstash", "kafka")


# ------------------------------------------------------------------ Logstash's config language
@dataclass
class Bareword:
    text: str


@dataclass
class Plugin:
    name: str
    attrs: list[tuple[str, object]] = field(default_factory=list)

    def get(self, key: str, default=None):
        values = [v for k, v in self.attrs if k == key]
        assert len(values) <= 1, f"{self.name}: {key} set twice"
        return values[0] if values else default

    def keys(self) -> list[str]:
        return [k for k, _ in self.attrs]


@dataclass
class Branch:
    clauses: list[tuple[str | None, list]]  # (condition text or None for else, items)


class ConfigError(ValueError):
    pass


class LSCL:
    """A recursive-descent parser of Logstash's pipeline configuration language, as its
    grammar defines it: `input`/`filter`/`output` sections of plugins and if/else if/else
    branches; a plugin is `name { attr => value ... }` (attributes separated by whitespace);
    a value is a plugin, a bareword (two characters or more), a double- or single-quoted
    string, a number, an array or a hash; `#` comments run to the end of the line."""

    WS = re.compile(r"[ \t\r\n]+")
    COMMENT = re.compile(r"[ \t\r\n]*#[^\r\n]*\r?\n")
    NAME = re.compile(r"[A-Za-z0-9_-]+")
    BAREWORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]+")
    NUMBER = re.compile(r"-?[0-9]+(\.[0-9]*)?")
    SELECTOR = re.compile(r"(\[[^\]\[,]+\])+")
    REGEXP = re.compile(r"/(\\/|[^/])*/")
    COMPARE = re.compile(r"==|!=|<=|>=|<|>|=~|!~")
    BOOL_OP = re.compile(r"(and|or|xor|nand)\b")

    def __init__(self, text: str):
        self.text = text
        self.pos = 0

    # -- helpers
    def fail(self, what: str):
        line = self.text.count("\n", 0, self.pos) + 1
        col = self.pos - (self.text.rfind("\n", 0, self.pos) + 1) + 1
        raise ConfigError(f"expected {what} at line {line}, column {col}: {self.text[self.pos:self.pos + 30]!r}")

    def cs(self):
        while True:
            m = self.COMMENT.match(self.text, self.pos) or self.WS.match(self.text, self.pos)
            if not m:
                return
            self.pos = m.end()

    def ws_then_cs(self) -> bool:
        """Whitespace (or a comment, which starts with optional whitespace) is required."""
        m = self.WS.match(self.text, self.pos) or self.COMMENT.match(self.text, self.pos)
        if not m:
            return False
        self.pos = m.end()
        self.cs()
        return True

    def lit(self, s: str) -> bool:
        if self.text.startswith(s, self.pos):
            self.pos += len(s)
            return True
        return False

    def expect(self, s: str):
        if not self.lit(s):
            self.fail(repr(s))

    def regex(self, rx: re.Pattern):
        m = rx.match(self.text, self.pos)
        if m:
            self.pos = m.end()
            return m.group(0)
        return None

    # -- the grammar
    def parse(self) -> list[tuple[str, list]]:
        sections = []
        self.cs()
        while self.pos < len(self.text):
            kind = next((k for k in ("input", "filter", "output") if self.lit(k)), None)
            if kind is None:
                self.fail("input, filter or output")
            self.cs()
            self.expect("{")
            sections.append((kind, self.items()))
            self.cs()
        return sections

    def items(self) -> list:
        out = []
        self.cs()
        while not self.lit("}"):
            if self.pos >= len(self.text):
                self.fail("'}'")
            out.append(self.branch() if self.text.startswith("if", self.pos) and not self.NAME.match(
                self.text, self.pos + 2) else self.plugin())
            self.cs()
        return out

    def branch(self) -> Branch:
        clauses = []
        self.expect("if")
        clauses.append((self.condition(), self.block()))
        while True:
            save = self.pos
            self.cs()
            if not self.lit("else"):
                self.pos = save
                break
            self.cs()
            if self.lit("if"):
                clauses.append((self.condition(), self.block()))
            else:
                clauses.append((None, self.block()))
                break
        return Branch(clauses)

    def block(self) -> list:
        self.cs()
        self.expect("{")
        return self.items()

    def condition(self) -> str:
        self.cs()
        start = self.pos
        self.expression()
        while True:
            save = self.pos
            self.cs()
            if not self.regex(self.BOOL_OP):
                self.pos = save
                break
            self.cs()
            self.expression()
        return self.text[start:self.pos]

    def expression(self):
        if self.lit("("):
            self.condition()
            self.cs()
            self.expect(")")
            return
        if self.lit("!"):
            self.cs()
            if self.lit("("):
                self.condition()
                self.cs()
                self.expect(")")
            elif not self.regex(self.SELECTOR):
                self.fail("a selector or '(' after '!'")
            return
        self.rvalue()
        save = self.pos
        self.cs()
        if self.lit("not "):
            self.cs()
            self.expect("in")
            self.cs()
            self.rvalue()
        elif self.text.startswith("in", self.pos) and not self.NAME.match(self.text, self.pos + 2):
            self.pos += 2
            self.cs()
            self.rvalue()
        elif op := self.regex(self.COMPARE):
            self.cs()
            if op in ("=~", "!~"):
                if self.text[self.pos:self.pos + 1] in "\"'":
                    self.string()
                elif not self.regex(self.REGEXP):
                    self.fail("a string or /regexp/")
            else:
                self.rvalue()
        else:
            self.pos = save

    def rvalue(self):
        c = self.text[self.pos:self.pos + 1]
        if c in ("\"", "'"):
            self.string()
        elif self.regex(self.NUMBER) or self.regex(self.SELECTOR):
            pass
        elif c == "[":
            self.array()
        elif c == "/":
            if not self.regex(self.REGEXP):
                self.fail("a /regexp/")
        elif self.regex(self.BAREWORD):
            self.cs()
            self.expect("(")
            self.cs()
            if not self.lit(")"):
                self.rvalue()
                self.cs()
                while self.lit(","):
                    self.cs()
                    self.rvalue()
                    self.cs()
                self.expect(")")
        else:
            self.fail("a value (string, number, [selector], array, /regexp/ or method call)")

    def name(self) -> str:
        if self.text[self.pos:self.pos + 1] in ("\"", "'"):
            return self.string()
        n = self.regex(self.NAME)
        if n is None:
            self.fail("a name")
        return n

    def plugin(self) -> Plugin:
        plugin = Plugin(self.name())
        self.cs()
        self.expect("{")
        self.cs()
        if self.lit("}"):
            return plugin
        plugin.attrs.append(self.attribute())
        while True:
            save = self.pos
            if self.ws_then_cs() and not self.text.startswith("}", self.pos):
                plugin.attrs.append(self.attribute())
                continue
            self.pos = save
            break
        self.cs()
        self.expect("}")
        return plugin

    def attribute(self) -> tuple[str, object]:
        key = self.name()
        self.cs()
        self.expect("=>")
        self.cs()
        return key, self.value()

    def value(self):
        save = self.pos
        # A plugin (`codec => json { charset => "UTF-8" }`) before a bare word.
        if self.NAME.match(self.text, self.pos):
            try:
                return self.plugin()
            except ConfigError:
                self.pos = save
        c = self.text[self.pos:self.pos + 1]
        if c in ("\"", "'"):
            return self.string()
        if (word := self.regex(self.BAREWORD)) is not None:
            return Bareword(word)
        if (num := self.regex(self.NUMBER)) is not None:
            return float(num) if "." in num else int(num)
        if c == "[":
            return self.array()
        if c == "{":
            return self.hash()
        self.fail("a value (plugin, bareword, string, number, array or hash)")

    def string(self) -> str:
        quote = self.text[self.pos]
        i = self.pos + 1
        while i < len(self.text):
            if self.text[i] == "\\" and self.text[i + 1:i + 2] == quote:
                i += 2
                continue
            if self.text[i] == quote:
                s = self.text[self.pos + 1:i]
                self.pos = i + 1
                return s
            i += 1
        self.fail(f"the closing {quote}")

    def array(self) -> list:
        self.expect("[")
        self.cs()
        out = []
        if self.lit("]"):
            return out
        out.append(self.value())
        self.cs()
        while self.lit(","):
            self.cs()
            out.append(self.value())
            self.cs()
        self.expect("]")
        return out

    def hash(self) -> dict:
        self.expect("{")
        self.cs()
        out = {}
        while not self.lit("}"):
            if out and not self.WS.match(self.text, self.pos - 1):
                self.fail("whitespace between hash entries")
            c = self.text[self.pos:self.pos + 1]
            if c in ("\"", "'"):
                key = self.string()
            else:
                key = self.regex(self.BAREWORD) or self.regex(self.NUMBER)
                if key is None:
                    self.fail("a hash key")
            self.cs()
            self.expect("=>")
            self.cs()
            out[key] = self.value()
            self.cs()
        return out


def parse(text: str) -> dict[str, list]:
    sections: dict[str, list] = {}
    for kind, items in LSCL(text).parse():
        sections.setdefault(kind, []).extend(items)
    return sections


def only_plugin(sections: dict, kind: str) -> Plugin:
    items = sections.get(kind, [])
    assert len(items) == 1 and isinstance(items[0], Plugin), f"{kind}: {items}"
    return items[0]


ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def env_ref(value) -> tuple[str, str | None]:
    """`${NAME}` or `${NAME:default}` (the whole value) as (NAME, default)."""
    m = ENV_REF.fullmatch(str(value))
    assert m, f"{value!r} is not an environment reference"
    return m.group(1), m.group(2)


# ------------------------------------------------------------------ the generated projects
def cg_answers(answers: dict) -> dict:
    """The answers derive() needs, copier.yml's defaults for the rest, then `answers`."""
    questions = dt.load_yaml(ROOT / "copier.yml")
    base = {"service_name": "example-service", "http_port": 8080, "shutdown_timeout": 20, "owner": "acme",
            "instances": 2, "go_version": "1.26", "runtime_image": "distroless"}
    base.update({k: questions[k]["default"] for k in ("database", "redis")})
    return {**base, **answers}


@dataclass
class Generated:
    output: str
    project: Path
    cg: dict
    conf_text: str
    conf: dict
    filebeat: dict
    template: dict
    policy: dict
    docs: str


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    made: dict[str, Generated] = {}

    def get(output: str) -> Generated:
        if output not in made:
            answers = {"filebeat_output": output}
            project = generate(tmp_path_factory.mktemp(f"logstash-{output}") / "p", answers)
            cg = settings.derive(cg_answers(answers))
            deploy = project / "deploy" / "logstash"
            text = (deploy / f"{cg['service']}.conf").read_text()
            made[output] = Generated(
                output, project, cg, text, parse(text), dt.load_yaml(project / "deploy/filebeat/filebeat.yml"),
                json.loads((deploy / "index-template.json").read_text()),
                json.loads((deploy / "ilm-policy.json").read_text()),
                (project / "docs" / "deployment.md").read_text(),
            )
        return made[output]

    return get


@pytest.fixture(scope="module")
def default_project(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("logstash-none") / "p", {})


pytestmark = pytest.mark.xdist_group("logstash")


# ------------------------------------------------------------------ the parser itself
GOOD = """
# a comment
input { beats { port => 5044 ssl_enabled => "${X:true}" } }
filter {
  if [log][level] == "ERROR" and "x" in [tags] {
    mutate { add_tag => ["e"] remove_field => ["@version", "[a][b]"] }
  } else if [status] >= 500 or !([a] =~ /b\\/c/) {
    drop {}
  } else {
    mutate { rename => { "a" => "b" 'c' => "d" } }
  }
}
output { stdout { codec => rubydebug { metadata => true } } elasticsearch { hosts => ["a", "b"] } }
"""


def test_parser_reads_the_language():
    sections = parse(GOOD)
    assert list(sections) == ["input", "filter", "output"]
    assert only_plugin(sections, "input").attrs == [("port", 5044), ("ssl_enabled", "${X:true}")]
    branch = sections["filter"][0]
    assert isinstance(branch, Branch) and [c for c, _ in branch.clauses][2] is None
    assert branch.clauses[0][1][0].get("remove_field") == ["@version", "[a][b]"]
    assert branch.clauses[2][1][0].get("rename") == {"a": "b", "c": "d"}
    stdout, es = sections["output"]
    assert stdout.get("codec") == Plugin("rubydebug", [("metadata", Bareword("true"))])
    assert es.get("hosts") == ["a", "b"]


@pytest.mark.parametrize("bad", [
    "input { beats { port => 5044 }",                        # a brace missing
    "input { beats { port = 5044 } }",                       # = for =>
    "input { beats { port => 5044, host => \"x\" } }",       # a comma between attributes
    "input { beats { host => \"x } }",                       # a string not closed
    "inputs { beats { } }",                                  # no such section
    "input { beats { port => } }",                           # no value
    "filter { if [a] == { drop {} } }",                      # a condition without its right side
    "filter { if [a] { drop {} } else if { drop {} } }",     # else if without its condition
    "output { elasticsearch { hosts => [\"a\" \"b\"] } }",   # array items without a comma
    "input { beats { port => 5044 } } # a comment without its newline",
])
def test_parser_rejects_syntax_errors(bad):
    with pytest.raises(ConfigError):
        parse(bad)


# ------------------------------------------------------------------ which projects have it
@pytest.mark.slow
def test_only_logstash_and_kafka_outputs_get_a_pipeline(generated, default_project):
    assert not (default_project / "deploy" / "logstash").exists(), "Filebeat ships to Elasticsearch itself"
    for output in OUTPUTS:
        g = generated(output)
        assert sorted(p.name for p in (g.project / "deploy" / "logstash").iterdir()) == sorted(
            [f"{g.cg['service']}.conf", "pipelines.yml", "index-template.json", "ilm-policy.json",
             "systemd-dropin.conf"])
    assert "## Logstash" not in (default_project / "docs" / "deployment.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_no_generated_text_names_a_file_that_is_not_there(generated, output):
    """As tests/test_combinations.py for the yes/no answers, for these outputs' projects."""
    from test_combinations import dangling

    assert dangling(generated(output).project) == []


# ------------------------------------------------------------------ syntax of the real file
@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_pipeline_parses_into_one_input_filter_and_output(generated, output):
    g = generated(output)
    assert list(g.conf) == ["input", "filter", "output"]
    assert only_plugin(g.conf, "input").name == {"logstash": "beats", "kafka": "kafka"}[output]
    assert only_plugin(g.conf, "output").name == "elasticsearch"
    assert all(isinstance(p, Plugin) and p.name == "mutate" for p in g.conf["filter"])
    # Every plugin has an id of its own (Logstash's monitoring API names it so).
    plugins = [only_plugin(g.conf, "input"), *g.conf["filter"], only_plugin(g.conf, "output")]
    ids = [p.get("id") for p in plugins]
    assert all(ids) and len(set(ids)) == len(ids), ids


MUTATIONS = [
    ("a brace dropped", lambda t: t.replace("}\n\nfilter", "\n\nfilter", 1)),
    ("=> written =", lambda t: t.replace(" => ", " = ", 1)),
    ("a quote lost", lambda t: t.replace('"true"', '"true', 1)),
    ("a comma between attributes", lambda t: re.sub(r"(id => \"[^\"]+\")\n", r"\1,\n", t, count=1)),
    ("a YAML-style colon", lambda t: t.replace("remove_field => ", "remove_field: ", 1)),
]


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("what,mutate", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation_a_syntax_error_in_the_real_pipeline_is_caught(generated, output, what, mutate):
    text = generated(output).conf_text
    broken = mutate(text)
    assert broken != text, what
    with pytest.raises(ConfigError):
        parse(broken)


# ------------------------------------------------------------------ input against filebeat.yml
def input_problems(input_: Plugin, filebeat: dict) -> list[str]:
    """Where the Logstash input would not read what filebeat.yml's output sends."""
    problems = []
    if "output.kafka" in filebeat:
        out = filebeat["output.kafka"]
        if input_.name != "kafka":
            return [f"Filebeat writes to Kafka, the pipeline reads {input_.name}"]
        # Filebeat's kafka output encodes each event with its `codec` (JSON unless codec.format says otherwise).
        codecs = [k for k in out if k.startswith("codec.")] or ["codec.json"]
        want = {"codec.json": "json", "codec.format": "plain"}[codecs[0].split(".")[0] + "." + codecs[0].split(".")[1]]
        codec = input_.get("codec")
        got = codec.text if isinstance(codec, Bareword) else codec.name if isinstance(codec, Plugin) else codec
        if got != want:
            problems.append(f"codec {got!r}: Filebeat writes {codecs[0]}, read with {want!r}")
        if input_.get("topics") != [out["topic"]]:
            problems.append(f"topics {input_.get('topics')} != Filebeat's topic {out['topic']!r}")
        if env_ref(input_.get("bootstrap_servers"))[0] != env_ref(out["hosts"])[0]:
            problems.append("brokers from another variable than Filebeat's")
        if input_.get("sasl_mechanism") != out["sasl.mechanism"]:
            problems.append(f"SASL {input_.get('sasl_mechanism')} != Filebeat's {out['sasl.mechanism']}")
        jaas = input_.get("sasl_jaas_config") or ""
        for key in ("username", "password"):
            if f"{key}='${{{env_ref(out[key])[0]}}}'" not in jaas:
                problems.append(f"the {key} is not Filebeat's {out[key]}")
        tls_default = env_ref(out["ssl.enabled"])[1] == "true"
        protocol = env_ref(input_.get("security_protocol"))[1]
        if (protocol == "SASL_SSL") != tls_default:
            problems.append(f"security_protocol defaults to {protocol}, Filebeat's TLS to {tls_default}")
        verified = input_.get("ssl_endpoint_identification_algorithm") == "https"
        if out.get("ssl.verification_mode") == "full" and not verified:
            problems.append("Filebeat verifies the brokers' names, Logstash does not")
    elif "output.logstash" in filebeat:
        out = filebeat["output.logstash"]
        if input_.name != "beats":
            return [f"Filebeat sends to Logstash, the pipeline reads {input_.name}"]
        if input_.get("codec") is not None:
            problems.append("the beats input gets events already decoded: no codec")
        if env_ref(input_.get("ssl_enabled"))[1] != env_ref(out["ssl.enabled"])[1]:
            problems.append("the TLS defaults of Filebeat and Logstash differ")
        # Filebeat presents no certificate of its own: Logstash must not ask for one.
        client_cert = any(k in out for k in ("ssl.certificate", "ssl.key"))
        if (input_.get("ssl_client_authentication") != "none") != client_cert:
            problems.append("client authentication does not match Filebeat's certificate (or its absence)")
        if not input_.get("ssl_certificate") or not input_.get("ssl_key"):
            problems.append("TLS without a certificate and key")
    else:
        problems.append("Filebeat ships neither to Logstash nor to Kafka")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_input_reads_what_filebeat_sends(generated, output):
    g = generated(output)
    assert input_problems(only_plugin(g.conf, "input"), g.filebeat) == []
    if output == "logstash":
        # LOGSTASH_HOSTS on the services' hosts name this port (5044, Filebeat's default too).
        assert env_ref(only_plugin(g.conf, "input").get("port")) == ("LOGSTASH_BEATS_PORT", "5044")


@pytest.mark.slow
@pytest.mark.parametrize("output,change,expect", [
    ("kafka", lambda i, f: i.attrs.__setitem__(i.keys().index("codec"), ("codec", Bareword("plain"))), "codec"),
    ("kafka", lambda i, f: f["output.kafka"].update({"codec.format": {"string": "%{[message]}"}}), "codec"),
    ("kafka", lambda i, f: f["output.kafka"].update({"topic": "other-logs"}), "topics"),
    ("kafka", lambda i, f: f["output.kafka"].update({"password": "${KAFKA_PASS}"}), "password"),
    ("kafka", lambda i, f: f["output.kafka"].update({"sasl.mechanism": "PLAIN"}), "SASL"),
    ("logstash", lambda i, f: i.attrs.append(("codec", Bareword("json"))), "codec"),
    ("logstash", lambda i, f: f["output.logstash"].update({"ssl.enabled": "${FILEBEAT_TLS:false}"}), "TLS defaults"),
    ("logstash", lambda i, f: f["output.logstash"].update({"ssl.certificate": "/c.pem", "ssl.key": "/k.pem"}),
     "client authentication"),
], ids=["kafka-codec", "filebeat-format-codec", "topic", "password", "sasl", "beats-codec", "tls-default",
        "client-cert"])
def test_mutation_an_input_that_disagrees_with_filebeat_is_caught(generated, output, change, expect):
    g = generated(output)
    input_, filebeat = copy.deepcopy(only_plugin(g.conf, "input")), copy.deepcopy(g.filebeat)
    change(input_, filebeat)
    problems = input_problems(input_, filebeat)
    assert any(expect in p for p in problems), problems


# ------------------------------------------------------------------ output, template, policy
# What Logstash's elasticsearch output accepts with data_stream => true (its own check
# rejects the rest, index and manage_template included): data_stream*, the connection's
# settings, the plugin's id.
DATA_STREAM_OPTIONS = {"id", "hosts", "api_key", "ssl_enabled", "ssl_verification_mode", "ssl_certificate_authorities",
                       "data_stream", "data_stream_type", "data_stream_dataset", "data_stream_namespace",
                       "data_stream_auto_routing", "data_stream_sync_fields"}


def output_problems(out: Plugin, template: dict, policy_name: str, policy: dict) -> list[str]:
    problems = []
    if out.get("data_stream") != "true":
        problems.append("not a data stream")
    if extra := set(out.keys()) - DATA_STREAM_OPTIONS:
        problems.append(f"options Logstash rejects in data stream mode: {sorted(extra)}")
    namespace = env_ref(out.get("data_stream_namespace"))[1]
    name = f"{out.get('data_stream_type')}-{out.get('data_stream_dataset')}-{namespace}"
    if not any(fnmatch.fnmatchcase(name, p) for p in template["index_patterns"]):
        problems.append(f"{name} is not matched by the template's {template['index_patterns']}")
    if "-" in str(out.get("data_stream_dataset")):
        problems.append("a dataset with '-' breaks the type-dataset-namespace scheme")
    if out.get("data_stream_auto_routing") != Bareword("false"):
        problems.append("a line's data_stream.* fields could route it elsewhere")
    if "data_stream" not in template:
        problems.append("the template is not a data stream template")
    if template.get("priority", 0) <= 100:
        problems.append("the built-in logs-*-* template (priority 100) would win")
    if not set(template.get("composed_of", [])) <= set(template.get("ignore_missing_component_templates", [])):
        problems.append("a component template that may not exist is required: the template would be refused")
    if template["template"]["settings"].get("index.lifecycle.name") != policy_name:
        problems.append("the template names another ILM policy")
    if out.get("ssl_enabled") != Bareword("true") or out.get("ssl_verification_mode") != "full":
        problems.append("TLS off or not verified")
    for key in ("hosts", "api_key"):
        env_ref(out.get(key))  # from the environment, never written in the file
    phases = policy["policy"]["phases"]
    if "rollover" not in phases["hot"]["actions"] or "delete" not in phases.get("delete", {}).get("actions", {}):
        problems.append("the policy neither rolls over nor deletes")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_output_writes_the_data_stream_the_template_and_policy_cover(generated, output):
    g = generated(output)
    ls = g.cg["logstash"]
    out = only_plugin(g.conf, "output")
    assert output_problems(out, g.template, ls["ilm_policy_name"], g.policy) == []
    assert g.template["index_patterns"] == [ls["data_stream"]["pattern"]]
    assert g.template["template"]["mappings"]["properties"]["@timestamp"] == {"type": "date"}, "data streams need it"
    delete = g.policy["policy"]["phases"]["delete"]
    assert delete["min_age"] == f"{ls['retention_days']}d" and delete["actions"] == {"delete": {}}
    assert f"{ls['retention_days']} days" in g.docs
    # The pipelines.yml entry loads this file, in ECS mode (data streams require it).
    entry = dt.load_yaml(g.project / "deploy/logstash/pipelines.yml")
    assert entry == [{"pipeline.id": ls["pipeline_id"], "path.config": ls["pipeline_path"],
                      "pipeline.ecs_compatibility": "v8"}]
    assert ls["pipeline_path"].endswith(f"/{g.cg['service']}.conf")


@pytest.mark.slow
@pytest.mark.parametrize("change,expect", [
    (lambda o, t, p: o.attrs.append(("index", "logs-x")), "rejects"),
    (lambda o, t, p: o.attrs.append(("manage_template", Bareword("false"))), "rejects"),
    (lambda o, t, p: t.update({"index_patterns": ["logs-other-*"]}), "not matched"),
    (lambda o, t, p: t.update({"priority": 100}), "built-in"),
    (lambda o, t, p: t.update({"ignore_missing_component_templates": []}), "may not exist"),
    (lambda o, t, p: t["template"]["settings"].update({"index.lifecycle.name": "x"}), "ILM"),
    (lambda o, t, p: o.attrs.__setitem__(o.keys().index("ssl_verification_mode"), ("ssl_verification_mode", "none")),
     "TLS"),
    (lambda o, t, p: p["policy"]["phases"].pop("delete"), "deletes"),
], ids=["index", "manage_template", "pattern", "priority", "custom-required", "policy-name", "tls", "no-delete"])
def test_mutation_an_output_template_or_policy_mistake_is_caught(generated, change, expect):
    g = generated("kafka")
    out = copy.deepcopy(only_plugin(g.conf, "output"))
    template, policy = copy.deepcopy(g.template), copy.deepcopy(g.policy)
    change(out, template, policy)
    problems = output_problems(out, template, g.cg["logstash"]["ilm_policy_name"], policy)
    assert any(expect in p for p in problems), problems


ES_TYPES = TOOLS_BIN.parent / "es-types"  # scripts/bootstrap.d/79-es-types.sh
# The request bodies of PUT _index_template/<name> and PUT _ilm/policy/<name> in the
# official client's types (generated from Elasticsearch's API specification).
ES_TYPES_CHECK = """import type * as T from "{types}";
type Query = "name" | "create" | "master_timeout" | "cause" | "body" | "querystring" | "error_trace" | "filter_path"
  | "human" | "pretty";
export const template: Omit<T.IndicesPutIndexTemplateRequest, Query> = {template};
export const policy: Pick<T.IlmPutLifecycleRequest, "policy"> = {policy};
"""
# The JSON types a dynamic template may match (the client types it as a plain string).
MATCH_MAPPING_TYPES = {"object", "string", "long", "double", "boolean", "date", "binary", "*"}


def es_type_errors(template: str, policy: str, work: Path) -> str:
    """tsc's errors for the two JSON texts as request bodies ("" when they type-check).
    Inlined as literals, so that an unknown key is an error as well as a wrong type."""
    assert (ES_TYPES / "typescript" / "bin" / "tsc").is_file(), f"{ES_TYPES} is missing: run scripts/bootstrap"
    source = work / "check.ts"
    source.write_text(ES_TYPES_CHECK.format(types=ES_TYPES / "elasticsearch" / "lib" / "api" / "types",
                                            template=template, policy=policy))
    errors = [f"{name}: match_mapping_type {kind}" for d in json.loads(template)["template"]["mappings"].get(
        "dynamic_templates", []) for name, t in d.items() if (kind := t.get("match_mapping_type")) not in
        MATCH_MAPPING_TYPES]
    proc = subprocess.run(["node", str(ES_TYPES / "typescript" / "bin" / "tsc"), "--noEmit", "--strict", "--target",
                           "es2020", "--moduleResolution", "node", str(source)],
                          capture_output=True, text=True, timeout=120, check=False)
    return "\n".join(errors) + (proc.stdout + proc.stderr if proc.returncode else "")


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_template_and_policy_are_what_elasticsearch_api_takes(generated, output, tmp_path):
    deploy = generated(output).project / "deploy" / "logstash"
    errors = es_type_errors((deploy / "index-template.json").read_text(), (deploy / "ilm-policy.json").read_text(),
                            tmp_path)
    assert errors == ""


@pytest.mark.slow
@pytest.mark.parametrize("before,after", [
    ('"priority"', '"priorty"'), ('"index_patterns"', '"index_pattern"'), ('"type": "ip"', '"type": "ipv4"'),
    ('"ignore_above": 1024', '"ignore_above": "1024 bytes"'), ('"dynamic_templates"', '"dynamic_template"'),
    ('"match_mapping_type": "long"', '"match_mapping_type": "integer"'), ('"data_stream": {}', '"data_stream": true'),
    ('"max_primary_shard_size"', '"max_primary_size"'), ('"hot"', '"hott"'), ('"min_age": "30d"', '"min_age": 30'),
])
def test_mutation_a_template_or_policy_elasticsearch_would_refuse_is_caught(generated, before, after, tmp_path):
    deploy = generated("kafka").project / "deploy" / "logstash"
    template, policy = (deploy / "index-template.json").read_text(), (deploy / "ilm-policy.json").read_text()
    assert before in template + policy, before
    errors = es_type_errors(template.replace(before, after, 1), policy.replace(before, after, 1), tmp_path)
    assert errors, f"{before} -> {after} type-checks"


@pytest.mark.slow
@pytest.mark.parametrize("output", OUTPUTS)
def test_every_setting_comes_from_the_environment_and_is_documented(generated, output):
    g = generated(output)
    ls = g.cg["logstash"]
    refs = {m.group(1): m.group(2) for m in ENV_REF.finditer(g.conf_text)}
    expected = {ls["env"][k]["var"]: (ls["env"][k]["default"] or None) for k in ls["env_keys"]}
    assert refs == expected
    for var, default in refs.items():
        row = next((line for line in g.docs.splitlines() if line.startswith(f"| `{var}` |")), None)
        assert row, f"{var} is not in docs/deployment.md"
        assert default is None or f"`{default}`" in row, row
    # No secret written in the file: every credential is a reference.
    assert not re.search(r"(api_key|password|sasl_jaas_config) => \"[^\"$]*\"", g.conf_text)
    dropin = (g.project / "deploy/logstash/systemd-dropin.conf").read_text()
    assert f"EnvironmentFile={ls['host_env_file']}" in dropin
    for name in ("ilm-policy.json", "index-template.json"):
        assert f"@deploy/logstash/{name}" in g.docs
    assert f"_ilm/policy/{ls['ilm_policy_name']}" in g.docs and f"_index_template/{ls['index_template_name']}" in g.docs
    assert g.template["composed_of"] == [ls["custom_component"]]
    assert f"_component_template/{ls['custom_component']}" in g.docs


@pytest.mark.slow
def test_no_grok_is_needed_nginx_access_log_is_json_and_not_shipped(generated):
    """The pipeline parses nothing: the service's lines reach it decoded, and Nginx's access
    log, the one other log on the host, is JSON (no grok needed) and not shipped by Filebeat."""
    g = generated("logstash")
    paths = [p for i in g.filebeat["filebeat.inputs"] for p in i["paths"]]
    nginx = g.cg["nginx"]
    assert not any(fnmatch.fnmatch(nginx["access_log"], p) or fnmatch.fnmatch(nginx["error_log"], p) for p in paths)
    log_format = next((g.project / "deploy/nginx").rglob("log-format.conf")).read_text()
    assert "log_format json escape=json" in log_format
    assert not any(p.name in ("grok", "json", "dissect", "kv") for p in g.conf["filter"])


# ------------------------------------------------------------------ real lines, Filebeat, the filter, the template
def leaves(value, path=""):
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from leaves(sub, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for item in value:
            yield from leaves(item, path)
    else:
        yield path, value


def field_ref(ref: str) -> list[str]:
    """A Logstash field reference (`@version`, `[a][b]`) as its path."""
    return re.findall(r"\[([^\]]+)\]", ref) if ref.startswith("[") else [ref]


def has_field(doc: dict, path: list[str]) -> bool:
    node = doc
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def apply_filter(filters: list, event: dict) -> dict:
    """The pipeline's filter section on one event (only the plugins it uses; any other
    fails here, to be emulated when the pipeline starts using it)."""
    out = copy.deepcopy(event)
    for plugin in filters:
        known = isinstance(plugin, Plugin) and plugin.name == "mutate" and set(plugin.keys()) <= {"id", "remove_field"}
        assert known, f"emulate {plugin} here"
        for ref in plugin.get("remove_field") or []:
            path = field_ref(ref)
            node = out
            for part in path[:-1]:
                node = node.get(part, {})
            node.pop(path[-1], None)
    return out


def filter_ref_problems(filters: list, docs: list[dict]) -> list[str]:
    """Fields the filter names that an event lacks (a filter acting on nothing)."""
    return [f"{ref} is missing from an event" for plugin in filters for ref in plugin.get("remove_field") or []
            if not all(has_field(d, field_ref(ref)) for d in docs)]


def as_logstash_reads(event: dict, input_name: str) -> dict:
    """A Filebeat event as the input makes it a Logstash event: beats gets the event's
    fields as they are; kafka gets the JSON document Filebeat's kafka output writes (the
    same JSON encoding as its file output's) and decodes it with the json codec. Both
    keep @metadata out of the document and add Logstash's @version."""
    doc = json.loads(json.dumps(event)) if input_name == "kafka" else copy.deepcopy(event)
    doc.pop("@metadata", None)
    doc.setdefault("@version", "1")
    return doc


FAMILIES = [{"keyword", "wildcard", "constant_keyword"}, {"text", "match_only_text"},
            {"long", "integer", "short", "byte", "unsigned_long"},
            {"double", "float", "half_float", "scaled_float"}, {"date"}, {"ip"}, {"boolean"}]


def same_family(a: str, b: str) -> bool:
    return a == b or any(a in f and b in f for f in FAMILIES)


def accepts(kind: str, value) -> bool:
    """Whether Elasticsearch indexes this JSON value as it should into a field of `kind`."""
    items = value if isinstance(value, list) else [value]
    for v in items:
        if kind in ("keyword", "wildcard", "constant_keyword", "text", "match_only_text"):
            ok = isinstance(v, str)
        elif kind in ("long", "integer"):
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif kind in ("double", "float", "scaled_float"):
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif kind == "boolean":
            ok = isinstance(v, bool)
        elif kind == "date":
            ok = isinstance(v, str) and _iso(v)
        elif kind == "ip":
            ok = isinstance(v, str) and _ip(v)
        else:
            ok = False
        if not ok:
            return False
    return True


def _iso(s: str) -> bool:
    try:
        datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", s).replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


def _ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def mapped(properties: dict, path: str):
    """The mapping of a dotted path in nested `properties`: a dict with `type`, the string
    "object" when the path is an object there, or None."""
    node = {"properties": properties}
    for part in path.split("."):
        props = node.get("properties")
        if props is None or part not in props:
            return None
        node = props[part]
    return node if "type" in node else "object"


def mapping_problems(docs: list[dict], template: dict, dynamic_roots: set[str]) -> list[str]:
    """Every field of the documents mapped with a compatible type, or (only keys of the
    service's own lines outside the shared list: `dynamic_roots`) by a dynamic template."""
    mappings = template["template"]["mappings"]
    dynamic_types = {t["match_mapping_type"] for d in mappings["dynamic_templates"] for t in d.values()
                     if t["mapping"]["type"] == "keyword"}
    json_type = lambda v: {bool: "boolean", int: "long", float: "double", str: "string"}.get(type(v))  # noqa: E731
    problems: set[str] = set()
    for doc in docs:
        for path, value in leaves(doc):
            m = mapped(mappings["properties"], path)
            if m == "object":
                problems.add(f"{path}: {value!r} where the template has an object")
            elif m is None:
                values = value if isinstance(value, list) else [value]
                if path.split(".")[0] not in dynamic_roots:
                    problems.add(f"{path}: not mapped")
                elif not all(json_type(v) in dynamic_types for v in values):
                    problems.add(f"{path}: {value!r} has no dynamic template")
            elif not accepts(m["type"], value):
                problems.add(f"{path}: {value!r} is not a {m['type']}")
    return sorted(problems)


@pytest.fixture(scope="module")
def real_events(generated, tmp_path_factory):
    """The generated service's real log lines (its binary run on loopback, requests of
    every kind), and Filebeat's events of them with the generated filebeat.yml's input and
    processors (its output a file: the same JSON its kafka output writes)."""
    g = generated("kafka")
    work = tmp_path_factory.mktemp("logstash-real")
    build = subprocess.run(["make", "build"], cwd=g.project, capture_output=True, text=True, timeout=900, env=go_env())
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    prefix = g.cg["env_prefix"]
    port, admin = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefix)}
    env.update({f"{prefix}_HTTP_HOST": "127.0.0.1", f"{prefix}_HTTP_PORT": str(port),
                f"{prefix}_ADMIN_HOST": "127.0.0.1", f"{prefix}_ADMIN_PORT": str(admin),
                f"{prefix}_LOG_LEVEL": "debug"})
    log = work / f"{g.cg['service']}.log"
    # Tracing on (a loopback receiver takes the spans), so that lines carry trace_id too.
    with OTLPReceiver() as otlp, log.open("w") as out:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.endpoint
        proc = subprocess.Popen([str(g.project / "bin" / g.cg["binary"])], env=env, cwd=work, stdout=out,
                                stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=1).read()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "the service did not start"
                    time.sleep(0.1)
            requests = [("GET", "/livez", None, {}), ("GET", "/readyz", None, {}), ("GET", "/version", None, {}),
                        ("GET", "/api/v1/greetings/ada?language=fr", None, {"X-Request-ID": "req-42"}),
                        ("POST", "/api/v1/greetings", b'{"name": "x"', {"Content-Type": "application/json"}),
                        ("GET", "/no/such/route", None, {"User-Agent": "curl/8.0 \"quoted\""}),
                        ("DELETE", "/livez", None, {}), ("GET", "/static/missing.css", None, {})]
            for method, path, body, headers in requests:
                url = f"http://127.0.0.1:{port}{path}"
                req = urllib.request.Request(url, data=body, method=method, headers=headers)
                try:
                    urllib.request.urlopen(req, timeout=5).read()
                except urllib.error.HTTPError:
                    pass
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(r.get("msg") == "request" for r in lines) >= len(requests), lines
    # The same lines as compose's json-file driver writes them (the app's label copied into
    # each), and a neighbour container's line, which Filebeat must drop.
    label = g.cg["filebeat"]["container_label"]
    containers = work / "containers"
    for cid, owner, texts in (("a" * 64, g.cg["service"], log.read_text().splitlines()),
                              ("b" * 64, "someone-else", ['{"msg":"not ours"}'])):
        (containers / cid).mkdir(parents=True)
        (containers / cid / f"{cid}-json.log").write_text("".join(
            json.dumps({"log": t + "\n", "stream": "stdout", "attrs": {label: owner},
                        "time": "2026-01-02T03:04:05.000000001Z"}) + "\n" for t in texts))
    # Filebeat itself, the generated config's inputs pointed at the files, output a file.
    config = copy.deepcopy(g.filebeat)
    host_input = next(i for i in config["filebeat.inputs"] if i["id"] == g.cg["filebeat"]["input_id"])
    host_input["paths"] = [str(log)]
    container_input = next(i for i in config["filebeat.inputs"] if i["id"].endswith("-containers"))
    container_input["paths"] = [str(containers / "*" / "*.log")]
    for key in [k for k in config if k.startswith("output.")]:
        del config[key]
    out_dir = work / "out"
    config["output.file"] = {"path": str(out_dir), "filename": "events"}
    (work / "filebeat.yml").write_text(json.dumps(config))
    filebeat = subprocess.Popen(
        [str(TOOLS_BIN / "filebeat"), "-c", str(work / "filebeat.yml"), "--strict.perms=false",
         "--path.home", str(work), "--path.data", str(work / "data"), "--path.logs", str(work)],
        env={"PATH": "/usr/bin:/bin", "FILEBEAT_PATH_DATA": str(work / "data"), "FILEBEAT_CONTAINER_LOGS": "true"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    shipped: list[dict] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(shipped) < 2 * len(lines) and filebeat.poll() is None:
            time.sleep(1)
            shipped = [json.loads(x) for f in sorted(out_dir.glob("events*")) for x in f.read_text().splitlines()]
        time.sleep(2)  # a dropped line would have come by now, too
        shipped = [json.loads(x) for f in sorted(out_dir.glob("events*")) for x in f.read_text().splitlines()]
    finally:
        filebeat.terminate()
        _, err = filebeat.communicate(timeout=30)
    events = [e for e in shipped if e["log"]["file"]["path"] == str(log)]
    from_containers = [e for e in shipped if e["log"]["file"]["path"] != str(log)]
    assert len(events) == len(lines) == len(from_containers), (len(events), len(lines), len(from_containers),
                                                               err[-2000:])
    return g, lines, events, from_containers


def dynamic_roots(lines: list[dict]) -> set[str]:
    """The keys of the service's lines that the shared list does not name (per-message ones)."""
    shared = {key for key, _ in logstash.SERVICE_LOG_FIELDS}
    return {k for line in lines for k in line} - shared


@pytest.mark.slow
@pytest.mark.parametrize("input_name", ["kafka", "beats"])
def test_real_events_through_the_pipeline_fit_the_index_template(real_events, generated, input_name):
    g, lines, events, from_containers = real_events
    conf = generated("kafka" if input_name == "kafka" else "logstash")
    # Both layouts' events: a bare host's files, compose's containers (with their stream).
    assert all(e["stream"] == "stdout" for e in from_containers)
    docs_in = [as_logstash_reads(e, input_name) for e in events + from_containers]
    assert filter_ref_problems(conf.conf["filter"], docs_in) == []
    ls = conf.cg["logstash"]
    docs = [apply_filter(conf.conf["filter"], d) | {"data_stream": {"type": ls["data_stream"]["type"],
            "dataset": ls["data_stream"]["dataset"], "namespace": ls["data_stream"]["namespace"]}} for d in docs_in]
    assert mapping_problems(docs, conf.template, dynamic_roots(lines)) == []
    # The service's keys of the shared list, as shipped, each mapped explicitly with its
    # type; each key of a real access line there under its shipped name.
    renames = g.cg["filebeat"]["ecs_renames"]
    properties = conf.template["template"]["mappings"]["properties"]
    for key, kind in logstash.SERVICE_LOG_FIELDS:
        assert mapped(properties, logstash.shipped_name(key, renames))["type"] == kind, key
    line, doc = next((line, d) for line, d in zip(lines, docs) if line.get("msg") == "request")
    for key in line:
        assert has_field(doc, logstash.shipped_name(key, renames).split(".")), (key, doc)
    assert "@version" not in docs[0]


@pytest.mark.slow
def test_the_shared_list_names_every_key_of_the_access_line(real_events):
    """SERVICE_LOG_FIELDS is read from the service's logging code: each key its access line
    writes is there (a key added to LogRequest without it fails here)."""
    _, lines, events, _ = real_events
    shared = {key for key, _ in logstash.SERVICE_LOG_FIELDS}
    requests = [line for line in lines if line.get("msg") == "request"]
    for line in requests:
        assert set(line) <= shared, set(line) - shared
    # Within a request and a span: the request ID and the trace ID, shipped under ECS names.
    assert all("request_id" in line and "trace_id" in line for line in requests), requests
    assert all(e["trace"]["id"] and e["http"]["request"]["id"] for e, line in zip(events, lines)
               if line.get("msg") == "request")


@pytest.mark.slow
@pytest.mark.parametrize("change,expect", [
    (lambda props, renames: props.pop("latency_ms"), "latency_ms: not mapped"),
    (lambda props, renames: props["client"]["properties"]["ip"].update({"type": "long"}), "client.ip"),
    (lambda props, renames: props["http"]["properties"]["response"]["properties"]["status_code"].update(
        {"type": "date"}), "status_code"),
    (lambda props, renames: renames.remove(["user_agent", "user_agent.original"]), "user_agent: "),
    (lambda props, renames: props.pop("host"), "host."),
], ids=["unmapped", "ip-as-long", "status-as-date", "rename-dropped", "filebeat-field-unmapped"])
def test_mutation_a_field_the_template_does_not_fit_is_caught(real_events, change, expect):
    g, lines, events, _ = real_events
    template = copy.deepcopy(g.template)
    renames = copy.deepcopy(g.cg["filebeat"]["ecs_renames"])
    change(template["template"]["mappings"]["properties"], renames)
    if renames != g.cg["filebeat"]["ecs_renames"]:
        # Filebeat without that rename: the events as it would then ship them.
        events = [dt.apply_renames(line, [{"from": s, "to": d} for s, d in renames])
                  | {k: v for k, v in e.items() if k not in line and k not in {d.split(".")[0] for _, d in renames}}
                  for line, e in zip(lines, events)]
    docs = [apply_filter(g.conf["filter"], as_logstash_reads(e, "kafka")) for e in events]
    problems = mapping_problems(docs, template, dynamic_roots(lines))
    assert any(expect in p for p in problems), problems


@pytest.mark.slow
@pytest.mark.parametrize("ref", ["[event][original]", "[http][request][id]", "level"])
def test_mutation_a_filter_naming_a_missing_field_is_caught(real_events, ref):
    """The raw record a codec might keep (the json codec keeps none), a field only some
    lines have, a key under the name Filebeat renamed away."""
    g, _, events, _ = real_events
    docs = [as_logstash_reads(e, "kafka") for e in events]
    filters = [*g.conf["filter"], Plugin("mutate", [("remove_field", [ref])])]
    assert filter_ref_problems(filters, docs) == [f"{ref} is missing from an event"]


def test_explicit_types_agree_with_ecs():
    """Each explicitly mapped field that ECS defines has a type of ECS's family."""
    ecs = dt.ecs_schema()
    cg = settings.derive(cg_answers({"filebeat_output": "kafka"}))
    wrong = {name: (kind, ecs[name]["type"]) for name, kind in cg["logstash"]["fields"].items()
             if name in ecs and not same_family(kind, ecs[name]["type"])}
    assert wrong == {}
    assert not same_family("long", "keyword") and same_family("wildcard", "keyword")


# ------------------------------------------------------------------ changing one's mind
@pytest.mark.slow
def test_switching_the_output_adds_and_removes_the_pipeline(tmp_path):
    """`copier update -d filebeat_output=...` (docs/updating.md's way) on a committed project:
    the Logstash files come with logstash or kafka, change with the input, and go with
    elasticsearch or with Filebeat off; each time byte-identical to a fresh copy's."""
    from copier import run_copy
    from test_update import answers_of, commit_all, copier, git, working_tree_release

    release = working_tree_release(tmp_path / "release")
    project = tmp_path / "project"
    copier(tmp_path, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "0.1.0", str(release), str(project))
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    steps = [({"filebeat_output": "kafka"}, True), ({"filebeat_output": "logstash"}, True),
             ({"with_filebeat": "false"}, False), ({"with_filebeat": "true", "filebeat_output": "kafka"}, True),
             ({"filebeat_output": "elasticsearch"}, False)]
    for i, (data, present) in enumerate(steps):
        args = [a for k, v in data.items() for a in ("-d", f"{k}={v}")]
        copier(project, "update", "--trust", "--defaults", "--conflict", "inline", "--vcs-ref", "0.1.0", *args)
        answers = {k: v for k, v in answers_of(project).items() if not k.startswith("_")}
        fresh = tmp_path / f"fresh-{i}"
        run_copy(src_path=str(release), dst_path=str(fresh), data=answers, defaults=True, unsafe=True, quiet=True,
                 vcs_ref="0.1.0")
        deploy = project / "deploy" / "logstash"
        assert deploy.is_dir() == present, (data, answers)
        mine = {p.relative_to(project) for p in (project / "deploy").rglob("*") if p.is_file()}
        theirs = {p.relative_to(fresh) for p in (fresh / "deploy").rglob("*") if p.is_file()}
        assert mine == theirs, (data, sorted(mine ^ theirs))
        assert all((project / f).read_bytes() == (fresh / f).read_bytes() for f in mine), data
        for doc in ("docs/deployment.md",):
            assert (project / doc).read_text() == (fresh / doc).read_text(), data
        commit_all(project, f"Switch {data}")


def test_every_value_the_templates_read_exists():
    """Jinja renders an unknown `cg.logstash.x` as nothing, silently ("port  by default"):
    each one the templates name (and their `ls`/`env` aliases) is in cg.logstash."""
    cg = {"logstash": settings.derive(cg_answers({"filebeat_output": "logstash"}))["logstash"]}
    files = [*(ROOT / "template" / "docs").glob("*.jinja"), *(ROOT / "template" / "deploy").rglob("*.jinja")]
    aliases = {"ls": "cg.logstash", "env": "cg.logstash.env", "e": None}
    checked = 0
    for path in files:
        text = path.read_text()
        if "cg.logstash" not in text:
            continue
        for ref in re.findall(r"(?<![.\w])((?:cg\.logstash|ls|env)(?:\.[A-Za-z_]+)+)", text):
            head, _, rest = ref.partition(".")
            full = (aliases.get(head) or head) + "." + rest if head in aliases else ref
            node = {"cg": cg}
            for part in full.split("."):
                assert isinstance(node, dict) and part in node, f"{path.name}: {ref} is not in cg.logstash"
                node = node[part]
            checked += 1
    assert checked > 30, checked
