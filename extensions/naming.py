"""Pure functions behind copier-gin's answers: validation and derived names.

Everything here is plain Python with no Copier or Jinja import, so it is unit
tested directly (tests/test_extensions.py). `extensions/context.py` exposes these
functions to copier.yml (validators, defaults) and to the templates (context).
"""

from __future__ import annotations

import re

# Go releases the Go team supports (the two newest majors). The first one is the
# default. template/go.mod pins dependency versions whose own go directive is at most the
# oldest of these, so one go.sum serves every answer (tests/test_generated_go.py proves it).
SUPPORTED_GO_VERSIONS = ("1.26", "1.25")

DNS1123_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_MODULE_ELEM = re.compile(r"^[A-Za-z0-9._~-]+$")
_DOMAIN_ELEM = re.compile(r"^[a-z0-9.-]+$")
_RESERVED_PORTS_MIN = 1024
_PORT_MAX = 65535
_WINDOWS_RESERVED = {"con", "prn", "aux", "nul"} | {f"com{i}" for i in range(1, 10)} | {
    f"lpt{i}" for i in range(1, 10)
}


def validate_project_name(value: object) -> str:
    """Return an error message, or "" when the human-readable name is fine."""
    text = str(value or "")
    if not text.strip():
        return "project_name must not be empty: give the service a human-readable name, e.g. 'Orders API'."
    if len(text) > 64:
        return f"project_name must be at most 64 characters (got {len(text)})."
    if any(ch in text for ch in "\"\\`\n\r\t"):
        return "project_name must not contain quotes, backslashes, backticks or line breaks."
    return ""


# The longest service_name: it is also the host's Linux user (useradd: at most 32
# characters), compose's MySQL user (at most 32), and, with "-staging", a namespace (63).
SERVICE_NAME_MAX = 32


def validate_service_name(value: object) -> str:
    """DNS-1123 label: used for the binary, the image, Kubernetes objects and env prefix."""
    text = str(value if value is not None else "")
    allowed = (
        f"a DNS-1123 label of 2 to {SERVICE_NAME_MAX} characters: lowercase letters, digits and '-', "
        "starting with a letter and ending with a letter or digit (e.g. 'orders-api')"
    )
    if not text:
        return f"service_name must not be empty; it must be {allowed}."
    if len(text) > SERVICE_NAME_MAX:
        return (f"service_name is {len(text)} characters long; it must be {allowed}. Longer names break what "
                f"is derived from them: the Linux user on a host and a MySQL user (at most 32 characters), "
                f"the '<name>-staging' Kubernetes namespace (at most 63).")
    if len(text) < 2:
        return f"service_name '{text}' is too short; it must be {allowed}."
    if not DNS1123_LABEL.match(text):
        return f"service_name '{text}' is not valid; it must be {allowed}."
    if "--" in text:
        return f"service_name '{text}' must not contain '--'; it must be {allowed}."
    return ""


def validate_namespace(value: object, name: str = "k8s_edge_namespace") -> str:
    """A Kubernetes namespace name: a DNS-1123 label."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", text):
        return (f"{name} '{text}' is not a Kubernetes namespace name: 1 to 63 lowercase letters, "
                "digits or '-', starting and ending with a letter or digit.")
    return ""


def validate_hostname(value: object, name: str = "nginx_server_name") -> str:
    """A DNS name: lowercase labels of letters, digits and '-', joined by dots."""
    text = str(value if value is not None else "").strip()
    label = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
    if len(text) > 253 or not re.fullmatch(rf"{label}(\.{label})+", text):
        return (f"{name} '{text}' is not a DNS name such as orders.example.com: lowercase letters, "
                "digits and '-' in dot-separated labels.")
    return ""


def validate_module_path(value: object) -> str:
    """A Go module path as `go mod init` accepts it, without a URL scheme."""
    text = str(value if value is not None else "")
    example = "e.g. 'github.com/acme/orders-api'"
    if not text:
        return f"module_path must not be empty; give a Go module path, {example}."
    if "://" in text or text.startswith(("http:", "https:", "git@", "ssh:")):
        return f"module_path '{text}' must not contain a URL scheme or user; write it without 'https://', {example}."
    if any(ch.isspace() for ch in text):
        return f"module_path '{text}' must not contain spaces, {example}."
    if len(text) > 255:
        return "module_path must be at most 255 characters."
    if text.startswith("/") or text.endswith("/") or "//" in text:
        return f"module_path '{text}' must not start or end with '/' or contain '//', {example}."
    elems = text.split("/")
    for elem in elems:
        if not _MODULE_ELEM.match(elem):
            return (
                f"module_path element '{elem}' may only contain ASCII letters, digits and '.', '-', '_', '~', {example}."
            )
        if elem in (".", "..") or elem.startswith(".") or elem.endswith("."):
            return f"module_path element '{elem}' must not start or end with '.', {example}."
        if elem.split(".")[0].lower() in _WINDOWS_RESERVED:
            return f"module_path element '{elem}' is a reserved file name on Windows, {example}."
    first = elems[0]
    if "." in first:
        if not _DOMAIN_ELEM.match(first) or first.startswith("-"):
            return f"module_path host '{first}' must be lowercase letters, digits, '.' and '-', {example}."
    if elems[-1].startswith("-"):
        return f"module_path must not end in an element starting with '-', {example}."
    return ""


def validate_go_version(value: object) -> str:
    text = str(value if value is not None else "")
    if text not in SUPPORTED_GO_VERSIONS:
        return f"go_version '{text}' is not supported; choose one of {', '.join(SUPPORTED_GO_VERSIONS)} (the Go releases still supported upstream)."
    return ""


def validate_port(value: object, name: str = "http_port") -> str:
    try:
        port = int(str(value))
    except (TypeError, ValueError):
        return f"{name} must be a whole number from {_RESERVED_PORTS_MIN} to {_PORT_MAX} (got '{value}')."
    if str(value).strip() != str(port):
        return f"{name} must be a whole number from {_RESERVED_PORTS_MIN} to {_PORT_MAX} (got '{value}')."
    if not _RESERVED_PORTS_MIN <= port <= _PORT_MAX:
        return (
            f"{name} {port} is out of range; choose {_RESERVED_PORTS_MIN} to {_PORT_MAX} "
            "(ports below 1024 need root, which the non-root container does not have)."
        )
    return ""


def validate_int_range(value: object, name: str, low: int, high: int, unit: str = "") -> str:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return f"{name} must be a whole number from {low} to {high}{unit} (got '{value}')."
    if not low <= number <= high:
        return f"{name} must be from {low} to {high}{unit} (got {number})."
    return ""


def validate_owner(value: object) -> str:
    text = str(value if value is not None else "")
    if not text:
        return "owner must not be empty: the organisation or team that owns the service, e.g. 'acme'."
    if not re.match(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,37}[A-Za-z0-9])?$", text):
        return (
            f"owner '{text}' must be an organisation handle: 1 to 39 letters, digits or '-', "
            "not starting or ending with '-' (it is used in the module path and image name)."
        )
    return ""


def validate_image_registry(value: object) -> str:
    text = str(value if value is not None else "")
    if not text:
        return "image_registry must not be empty, e.g. 'ghcr.io/acme'."
    if "://" in text or text.endswith("/") or any(ch.isspace() for ch in text):
        return f"image_registry '{text}' must be a registry host and path without a scheme or trailing '/', e.g. 'ghcr.io/acme'."
    if text != text.lower():
        return f"image_registry '{text}' must be lowercase (image references are)."
    if not re.match(r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)*$", text):
        return f"image_registry '{text}' is not a valid registry reference, e.g. 'ghcr.io/acme'."
    return ""


def slugify(value: object) -> str:
    """A default service name from a project name: 'Orders API' -> 'orders-api'."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(value or "").lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)
    return slug[:63].rstrip("-") or "service"


def env_prefix(service_name: str) -> str:
    """'orders-api' -> 'ORDERS_API': prefix of every environment variable the service reads."""
    return re.sub(r"[^A-Z0-9]+", "_", service_name.upper()).strip("_")


def go_identifier(service_name: str) -> str:
    """'orders-api' -> 'ordersapi': a Go package name (lowercase, no '-' or '_')."""
    ident = re.sub(r"[^a-z0-9]", "", service_name.lower())
    if not ident or not ident[0].isalpha():
        ident = "svc" + ident
    return ident


def title_words(service_name: str) -> str:
    """'orders-api' -> 'Orders Api'."""
    return " ".join(part.capitalize() for part in service_name.split("-") if part)


def upstream_ports(http_port: int, instances: int) -> list[int]:
    """Consecutive ports for supervisord instances behind the nginx upstream."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    if http_port + instances - 1 > _PORT_MAX:
        raise ValueError(f"http_port {http_port} + {instances} instances exceeds port {_PORT_MAX}")
    return [http_port + i for i in range(instances)]


LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")


def license_text(license_id: str, owner: str, year: int | None = None) -> str:
    """The LICENSE file's text for one of LICENSES, with the copyright line filled in."""
    import datetime
    from pathlib import Path

    if license_id not in LICENSES:
        raise ValueError(f"unknown license {license_id!r}; choose one of {', '.join(LICENSES)}")
    text = (Path(__file__).parent / "licenses" / f"{license_id}.txt").read_text()
    year = year or datetime.date.today().year
    return text.replace("{year}", str(year)).replace("{owner}", owner).rstrip("\n")


def src_path_warning(src_path: object) -> str:
    """The after-copy message's warning when the template was copied from a relative path:
    Copier records it as written (`_src_path`), and `copier update` run from anywhere else
    cannot find the template ("only supported in git-tracked templates")."""
    src = str(src_path or "")
    if not src or src.startswith(("/", "~")) or re.match(r"^[\w+.-]+://|^gh:|^gl:|^[\w.-]+@[\w.-]+:", src):
        return ""
    return (
        f"Warning: the template was copied from the relative path {src!r}, which .copier-answers.yml\n"
        "  records as written: `make update` fails from anywhere else. Set _src_path in\n"
        "  .copier-answers.yml to the template's git URL or absolute path (docs/updating.md,\n"
        "  \"Where the template comes from\"), or copy from one of those next time."
    )


# ASCII punctuation that means something to CommonMark inline (and HTML tags): escaped
# with a backslash, which CommonMark defines for every ASCII punctuation character.
_MARKDOWN_SPECIAL = set("\\`*_[]<>|~!#&")


def markdown_text(value: object) -> str:
    """value as literal Markdown text: `<Tags>` stays visible, `*x*` is not emphasis."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIAL else ch for ch in str(value))


def dockerfile_string(value: object) -> str:
    """value as a double-quoted Dockerfile string (LABEL, ENV): Docker reads backslash
    escapes of quote and backslash only (no JSON \\u escapes) and expands $ unless escaped."""
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{text}"'
