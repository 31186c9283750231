from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from finsent.cli.app import Option, settings_options
from finsent.settings import (
    BrokerSettings,
    PipelineSettings,
    Settings,
    SettingsError,
    env_var,
    load_settings,
    masked,
    option_flag,
    setting_field,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("FINSENT_"):
            monkeypatch.delenv(key)


def test_defaults_use_the_embedded_services(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_DATA_DIR", str(tmp_path))
    s = load_settings()
    assert s.database_url is None
    assert s.embedded_database == tmp_path / "postgres"
    assert s.uses_local_broker
    assert s.bootstrap_servers == "127.0.0.1:9092"
    assert s.model_path == str(tmp_path / "models" / "finsent-sentiment")


def test_environment_is_read_per_concern(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_DATABASE_URL", "postgresql://u:pw@db:5432/x")
    monkeypatch.setenv("FINSENT_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    monkeypatch.setenv("FINSENT_BROKER_PORT", "19092")
    monkeypatch.setenv("FINSENT_LOG_LEVEL", "debug")
    s = load_settings()
    assert s.database_url == "postgresql://u:pw@db:5432/x"
    assert s.bootstrap_servers == "k1:9092,k2:9092"
    assert not s.uses_local_broker
    assert s.broker.port == 19092
    assert s.general.log_level == "DEBUG"


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_BROKER_PORT", "19092")
    assert load_settings({"broker": {"port": 29092}}).broker.port == 29092
    assert load_settings({"broker": {"port": None}}).broker.port == 19092


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("FINSENT_BROKER_PORT", "abc"),
        ("FINSENT_BROKER_PORT", "70000"),
        ("FINSENT_MODEL_DEVICE", "gpu"),
        ("FINSENT_LOG_LEVEL", "LOUD"),
        ("FINSENT_KAFKA_PARTITIONS", "0"),
        ("FINSENT_DATABASE_ECHO", "maybe"),
        ("FINSENT_KAFKA_TOPIC_PREFIX", "bad prefix!"),
        ("FINSENT_KAFKA_COMPRESSION", "snappy"),
        ("FINSENT_KAFKA_REPLICATION_FACTOR", "0"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(SettingsError) as e:
        load_settings()
    message = str(e.value)
    assert message.startswith(f"{var}={value!r} is not valid")
    assert "\n" not in message


def test_more_in_sync_replicas_than_replicas_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINSENT_KAFKA_REPLICATION_FACTOR", "2")
    monkeypatch.setenv("FINSENT_KAFKA_MIN_INSYNC_REPLICAS", "3")
    with pytest.raises(SettingsError) as e:
        load_settings()
    message = str(e.value)
    assert "FINSENT_KAFKA_MIN_INSYNC_REPLICAS=3" in message
    assert "FINSENT_KAFKA_REPLICATION_FACTOR=2" in message
    assert "\n" not in message
    monkeypatch.setenv("FINSENT_KAFKA_REPLICATION_FACTOR", "3")
    assert load_settings().kafka.min_insync_replicas == 3


def test_a_bad_override_names_its_variable() -> None:
    with pytest.raises(SettingsError, match="option for FINSENT_BROKER_PORT=-5"):
        load_settings({"broker": {"port": -5}})


def test_masked_hides_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINSENT_DATABASE_URL", "postgresql+psycopg://u:s3cret@db:5432/x")
    shown = masked(load_settings())
    assert shown["database"]["FINSENT_DATABASE_URL"] == "postgresql+psycopg://u:***@db:5432/x"
    assert "s3cret" not in repr(shown)


def test_env_var_names() -> None:
    assert env_var("database", "url") == "FINSENT_DATABASE_URL"
    assert env_var("general", "data_dir") == "FINSENT_DATA_DIR"
    assert env_var("kafka", "bootstrap_servers") == "FINSENT_KAFKA_BOOTSTRAP_SERVERS"


def test_an_option_is_named_after_its_field_unless_the_field_names_another() -> None:
    assert option_flag("kafka", "partitions") == "--partitions"
    assert option_flag("kafka", "bootstrap_servers") == "--bootstrap-servers"
    assert option_flag("database", "url") == "--database-url"
    assert option_flag("sources", "file") == "--feeds"


def test_a_setting_is_named_concern_dot_field() -> None:
    concern, field, info = setting_field("kafka.partitions")
    assert (concern, field, info.default) == ("kafka", "partitions", 8)
    with pytest.raises(ValueError, match=r"no setting 'kafka\.partition'"):
        setting_field("kafka.partition")


def _show(**kwargs: object) -> click.Command:
    """A command with the given settings' options that prints what it received."""

    @click.command()
    @click.option("--before", default="b")
    @settings_options(
        "kafka.partitions",
        "broker.kind",
        "database.echo",
        "pipeline.watchlist",
        Option("broker.port", "--broker-port"),
    )
    def show(before: str, settings: Settings) -> None:
        click.echo(
            f"{before} {settings.kafka.partitions} {settings.broker.kind} "
            f"{settings.database.echo} {settings.pipeline.watchlist} {settings.broker.port}"
        )

    return show


def test_settings_options_derive_name_type_and_help_from_the_fields() -> None:
    shown = [
        (param.opts + param.secondary_opts, param.type.name, param.help)
        for param in _show().params
        if isinstance(param, click.Option)
    ]
    kind, watchlist = (
        BrokerSettings.model_fields["kind"],
        PipelineSettings.model_fields["watchlist"],
    )
    assert shown == [  # in the order given, where the decorator stands
        (["--before"], "text", None),
        (["--partitions"], "integer", "Partitions of new topics. [env: FINSENT_KAFKA_PARTITIONS]"),
        (["--kind"], "choice", f"{kind.description} [env: FINSENT_BROKER_KIND]"),
        (
            ["--echo", "--no-echo"],
            "boolean",
            "Log every SQL statement. [env: FINSENT_DATABASE_ECHO]",
        ),
        (["--watchlist"], "path", f"{watchlist.description} [env: FINSENT_PIPELINE_WATCHLIST]"),
        (["--broker-port"], "integer", "Port of the local broker. [env: FINSENT_BROKER_PORT]"),
    ]
    assert "[embedded|kafka]" in CliRunner().invoke(_show(), ["--help"]).output


def test_an_option_given_overrides_the_environment_one_not_given_leaves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FINSENT_KAFKA_PARTITIONS", "3")
    monkeypatch.setenv("FINSENT_DATABASE_ECHO", "true")
    run = CliRunner().invoke
    assert run(_show(), []).output == "b 3 kafka True None 9092\n"
    given = ["--partitions", "5", "--kind", "embedded", "--no-echo", "--watchlist", "w.yaml"]
    assert run(_show(), [*given, "--broker-port", "1"]).output == "b 5 embedded False w.yaml 1\n"
    assert run(_show(), ["--kind", "zookeeper"]).exit_code == 2  # click refuses the choice


def test_an_unknown_setting_fails_when_the_command_is_declared() -> None:
    with pytest.raises(ValueError, match=r"no setting 'kafka\.partition'"):
        settings_options("kafka.partition")


def test_a_bad_option_value_is_one_line_naming_the_variable() -> None:
    from finsent.cli import cli

    result = CliRunner().invoke(cli, ["broker", "--port", "99999"])
    assert result.exit_code == 2
    assert result.output.startswith("error: option for FINSENT_BROKER_PORT=99999 is not valid")


def test_a_secret_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "webhook-secret"
    secret.write_text("whsec_abc\n")
    password = tmp_path / "dashboard-password"
    password.write_text("pa ss\r\n")
    monkeypatch.setenv("FINSENT_ALERTS_SECRET_FILE", str(secret))
    monkeypatch.setenv("FINSENT_DASHBOARD_PASSWORD_FILE", str(password))
    s = load_settings()
    assert s.alerts.secret is not None and s.alerts.secret.get_secret_value() == "whsec_abc"
    assert s.dashboard.password is not None
    assert s.dashboard.password.get_secret_value() == "pa ss"  # inner spaces kept
    assert "whsec_abc" not in str(masked(s))


def test_a_secret_file_that_cannot_be_used_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FINSENT_DATABASE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match=r"FINSENT_DATABASE_URL_FILE='.*missing': cannot read"):
        load_settings()
    (tmp_path / "missing").write_text("postgresql://u:p@h/db")
    monkeypatch.setenv("FINSENT_DATABASE_URL", "postgresql://other/db")
    with pytest.raises(SettingsError, match=r"both FINSENT_DATABASE_URL and .*_FILE are set"):
        load_settings()


def test_only_secrets_are_read_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feeds = tmp_path / "feeds.yaml"
    monkeypatch.setenv("FINSENT_SOURCES_FILE_FILE", str(feeds))  # not a secret: ignored
    monkeypatch.setenv("FINSENT_KAFKA_PARTITIONS_FILE", str(feeds))
    s = load_settings()
    assert s.kafka.partitions == 8
