"""docker-compose.yml, the Dockerfile and .env.example name only things that
exist: images pinned to a tag, settings the code reads, commands the CLI
has, routes the app serves, volumes that are declared. No Docker engine is
needed: the files are parsed and checked against the code."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from uvicorn.importer import import_from_string
from uvicorn.main import main as uvicorn_command

import service.settings as settings_module
from service.app import create_app
from service.cli import build_parser
from service.settings import PREFIX, SettingsError, backup_time, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
LOCALHOST_PORT = re.compile(r"^127\.0\.0\.1:\d{1,5}:\d{1,5}(/(tcp|udp))?$")


def setting_names() -> set[str]:
    """Every CONSENTRY_* variable service/settings.py reads: each reader
    (``_text``, ``_int``, ``_url``, …) is called as ``reader(environ, "NAME", …)``."""
    tree = ast.parse(Path(settings_module.__file__).read_text())
    return {
        PREFIX + node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and len(node.args) >= 2
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "environ"
        and isinstance(node.args[1], ast.Constant)
        and isinstance(node.args[1].value, str)
    }


def environment(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return dict(env)


def depends_on(service: dict[str, Any]) -> dict[str, Any]:
    needs = service.get("depends_on") or {}
    return {name: {} for name in needs} if isinstance(needs, list) else dict(needs)


def consentry_services() -> dict[str, dict[str, Any]]:
    """The services running the Consentry image (built from the Dockerfile)."""
    return {name: service for name, service in SERVICES.items() if "build" in service}


def check_uvicorn(argv: list[str]) -> dict[str, Any]:
    """Parse a uvicorn command line as uvicorn does; the app it names must load."""
    assert argv[0] == "uvicorn", argv
    params = uvicorn_command.make_context("uvicorn", list(argv[1:])).params
    assert params["factory"], "create_app is a factory: --factory"
    assert import_from_string(params["app"]) is create_app
    return params


def check_consentry(argv: list[str]) -> None:
    assert argv[0] == "consentry", argv
    args = build_parser().parse_args(argv[1:])
    assert callable(args.handler)


def check_command(argv: list[str]) -> None:
    if argv[0] == "uvicorn":
        check_uvicorn(argv)
    else:
        check_consentry(argv)


# -- the reading of the settings ---------------------------------------------------


def test_the_setting_names_are_read_from_the_settings_module(tmp_path: Path) -> None:
    names = setting_names()
    assert {"CONSENTRY_DATABASE_URL", "CONSENTRY_SECRET_KEY", "CONSENTRY_BACKUP_DIR"} <= names
    # The names found are the ones load_settings looks at: a bad value of a
    # number setting is refused naming it.
    for name in ("CONSENTRY_SEND_BATCH_SIZE", "CONSENTRY_BACKUP_KEEP_DAYS"):
        assert name in names
        with pytest.raises(SettingsError, match=name):
            load_settings({"CONSENTRY_VAR_DIR": str(tmp_path), name: "many"})


# -- services, images, settings --------------------------------------------------------


def test_every_service_names_an_image_or_a_build() -> None:
    for name, service in SERVICES.items():
        assert "image" in service or "build" in service, name


def test_images_are_pinned_to_a_tag() -> None:
    for name, service in SERVICES.items():
        image = service.get("image")
        if image is None:
            continue
        reference = image.rsplit("/", 1)[-1]
        assert ":" in reference, f"{name}: {image} has no tag"
        tag = reference.split(":", 1)[1]
        assert tag and tag != "latest", f"{name}: {image} is not pinned"
        assert "${" not in image, name


def test_every_consentry_variable_set_is_a_real_setting() -> None:
    names = setting_names()
    set_somewhere = {
        variable
        for service in SERVICES.values()
        for variable in environment(service)
        if variable.startswith(PREFIX)
    }
    assert set_somewhere, "the services set no CONSENTRY_* variable at all"
    assert set_somewhere - names == set()


def test_every_interpolated_variable_is_documented_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_TEXT))
    used |= set(re.findall(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)", COMPOSE_TEXT))
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE, re.MULTILINE))
    assert used - documented == set(), "add these to .env.example"
    assert documented - used == set(), ".env.example documents variables compose never uses"
    stray = {name for name in documented if name.startswith(PREFIX)} - setting_names()
    assert stray == set(), ".env.example names settings the code does not read"


def test_depends_on_names_existing_services() -> None:
    for name, service in SERVICES.items():
        for target in depends_on(service):
            assert target in SERVICES, f"{name} depends on a missing {target}"


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE.get("volumes") or {})
    for name, service in SERVICES.items():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/", "~")):
                assert source in declared, f"{name}: volume {source} is not declared"


# -- ports ---------------------------------------------------------------------


def test_published_ports_are_bound_to_localhost_only() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name}: {port}"
            else:
                assert LOCALHOST_PORT.match(str(port)), (
                    f"{name}: {port} would listen on every interface; prefix 127.0.0.1:"
                )


def test_the_api_publishes_no_port_so_it_can_be_scaled() -> None:
    assert "ports" not in SERVICES["api"]
    assert "container_name" not in SERVICES["api"]
    assert "container_name" not in SERVICES["worker"]


def test_the_proxy_sends_to_every_api_replica_on_the_apis_port() -> None:
    port = check_uvicorn(SERVICES["api"]["command"])["port"]
    proxy = SERVICES["proxy"]
    sources = {config["source"] for config in proxy["configs"]}
    contents = "".join(COMPOSE["configs"][source]["content"] for source in sources)
    assert f"dynamic a api {port}" in contents
    assert depends_on(proxy)["api"]["condition"] == "service_healthy"


# -- commands ------------------------------------------------------------------


def test_migrations_run_once_before_everything_else() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["consentry", "migrate"]
    assert migrate["restart"] == "no"
    check_consentry(migrate["command"])
    for name, service in consentry_services().items():
        if name != "migrate":
            assert depends_on(service)["migrate"] == {
                "condition": "service_completed_successfully"
            }, name


def test_service_commands_are_real_commands() -> None:
    assert SERVICES["worker"]["command"] == ["consentry", "worker"]
    for name, service in consentry_services().items():
        assert isinstance(service["command"], list), f"{name}: use the exec (list) form"
        check_command(service["command"])


def test_the_dockerfile_command_exists() -> None:
    entrypoints = re.findall(r"^ENTRYPOINT\b", DOCKERFILE, re.MULTILINE)
    assert entrypoints == []
    commands = re.findall(r"^CMD (\[.*\])\s*$", DOCKERFILE, re.MULTILINE)
    assert len(commands) == 1
    check_command(json.loads(commands[0]))


def test_healthchecks_ask_routes_the_app_serves(tmp_path: Path) -> None:
    app = create_app(load_settings({"CONSENTRY_VAR_DIR": str(tmp_path)}))
    routes = {route.path for route in app.routes}
    api_port = check_uvicorn(SERVICES["api"]["command"])["port"]
    checked = 0
    for name, service in SERVICES.items():
        test = " ".join((service.get("healthcheck") or {}).get("test") or [])
        for port, path in re.findall(r"http://127\.0\.0\.1:(\d+)(/[\w/.-]*)", test):
            assert name == "api" and int(port) == api_port, name
            assert path in routes, f"{name}: no route {path}"
            checked += 1
    assert checked >= 1, "the api has no HTTP healthcheck"


# -- backups and the image -----------------------------------------------------------


def test_the_client_tools_match_the_database_servers_version() -> None:
    server = re.fullmatch(r"postgres:(\d+)(\D.*)?", SERVICES["postgres"]["image"])
    assert server is not None
    image_default = re.search(r"^ARG PG_MAJOR=(\d+)$", DOCKERFILE, re.MULTILINE)
    assert image_default is not None
    assert image_default.group(1) == server.group(1)
    for name, service in consentry_services().items():
        assert str(service["build"]["args"]["PG_MAJOR"]) == server.group(1), name
    assert "postgresql-client-${PG_MAJOR}" in DOCKERFILE


def test_workers_keep_backups_and_transfers_in_volumes_the_image_prepares() -> None:
    worker = SERVICES["worker"]
    env = environment(worker)
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in worker["volumes"]
        if isinstance(volume, str)
    }
    chown = re.search(r"chown consentry ([^\\\n]+)", DOCKERFILE)
    assert chown is not None
    for setting in ("CONSENTRY_BACKUP_DIR", "CONSENTRY_PROFILE_TRANSFER_DIR"):
        folder = env[setting]
        assert folder in mounts, f"{setting}={folder} is not a volume of the worker"
        assert mounts[folder] in COMPOSE["volumes"]
        assert folder in chown.group(1).split(), f"the image does not prepare {folder}"
    # The nightly backup is on unless .env turns it off.
    default = re.fullmatch(r"\$\{CONSENTRY_BACKUP_TIME:-([^}]*)\}", env["CONSENTRY_BACKUP_TIME"])
    assert default is not None
    assert backup_time({"CONSENTRY_BACKUP_TIME": default.group(1)}) is not None
