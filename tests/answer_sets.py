"""Answer sets the full tier generates. Each exercises different names, paths, ports and options."""

DEFAULT: dict = {}

ANSWER_SETS: dict[str, dict] = {
    # Everything at its default (SQLite, no Redis): what `copier copy --defaults` gives a newcomer.
    "default": DEFAULT,
    # A different host, an older supported Go, a high port, short shutdown, some artifacts off.
    "orders": {
        "project_name": "Orders API",
        "service_name": "orders-api",
        "owner": "shop-team",
        "module_path": "gitlab.example.com/shop/backend/orders-api",
        "go_version": "1.25",
        "http_port": 9090,
        "shutdown_timeout": 5,
        "license": "Apache-2.0",
        "with_compose": False,
        "with_filebeat": False,
        "instances": 3,
        "runtime_image": "scratch",
        "k8s_routing": "gateway",
        "image_registry": "registry.example.com/shop",
        "database": "postgres",
        "redis": True,
        "ci_provider": "gitlab",
    },
    # Short name, module path without a dot in the host, everything deployment-related off.
    "minimal": {
        "project_name": "Pay",
        "service_name": "p2",
        "owner": "Fin",
        "module_path": "p2",
        "http_port": 1024,
        "shutdown_timeout": 1,
        "license": "MIT",
        "with_docker": False,
        "with_nginx": False,
        "with_supervisord": False,  # and so no Filebeat: with neither supervisord nor compose it is not asked
        "with_kubernetes": False,
        "ci_provider": "none",
        "database": "none",
        "with_assets": False,  # a pure API: no assets/ folder, no static route
    },
    # Every option on, the less common choices picked: Echo, MySQL, Kafka, systemd too.
    "full": {
        "framework": "echo",
        "project_name": "Inventory Sync Worker",
        "service_name": "inventory-sync-worker",
        "owner": "acme",
        "module_path": "github.com/acme/platform/inventory-sync-worker",
        "http_port": 18080,
        "shutdown_timeout": 45,
        "license": "BSD-3-Clause",
        "instances": 4,
        "filebeat_output": "kafka",
        "with_systemd": True,  # and supervisord: either runs the instances on a host
        "k8s_canary": True,
        "k8s_routing": "gateway",
        "k8s_edge_namespace": "platform-gateway",
        "nginx_server_name": "inventory.internal.acme.example",
        "database": "mysql",
        "redis": True,
    },
}

# Variants some modules generate besides the answer sets (conftest's `projects` knows them; the
# full tier does not iterate them): orders as a GitHub project, so the GitHub Actions tests
# keep a registry other than GHCR, a scratch image and a gateway.
VARIANTS: dict[str, dict] = {
    # The defaults on Echo: the Go tier, the binary's end-to-end tests, the images and compose
    # run it beside Gin, and test_behaviour requires it to answer one table of requests as
    # default (Gin) does.
    "default-echo": {"framework": "echo"},
    "orders-github": {**ANSWER_SETS["orders"], "ci_provider": "github"},
    # full on GitLab: the GitLab jobs with MySQL, a canary and GitLab's own registry.
    "full-gitlab": {**{k: v for k, v in ANSWER_SETS["full"].items() if k != "image_registry"}, "ci_provider": "gitlab"},
}
