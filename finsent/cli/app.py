"""The root command group, shared option helpers and the translation of errors.

Errors the user can fix end the process with one line on stderr, never a traceback:
exit code 2 for bad settings or arguments (a malformed database URL included), 1 for
everything else we can explain. Errors about the database URL name where it came from
(FINSENT_DATABASE_URL or --database-url): the storage package knows nothing of settings.
"""

from __future__ import annotations

import functools
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType, UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import click
from pydantic import SecretStr

from finsent import __version__, logs
from finsent.settings import (
    CONCERNS,
    Settings,
    SettingsError,
    env_var,
    load_settings,
    option_flag,
    setting_field,
)

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")

#: Each package's root exception; anything else is a bug and keeps its traceback.
EXPLAINED_ERRORS: tuple[type[BaseException], ...] = ()


def explained_errors() -> tuple[type[BaseException], ...]:
    """The packages' root exceptions, imported lazily so ``--help`` stays fast."""
    from classifier.exceptions import ClassifierError
    from core.errors import ConfigFileError
    from storage.exceptions import StorageError
    from streams.exceptions import StreamsError

    return (StorageError, StreamsError, ClassifierError, ConfigFileError)


class FinsentGroup(click.Group):
    """A group whose commands turn known errors into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingsError as e:
            raise UserError(str(e), exit_code=2) from None
        except explained_errors() as e:
            raise explained(e) from None


def explained(error: BaseException) -> UserError:
    """One package error as the user sees it: a malformed database URL is a bad setting
    (exit 2), and errors about the URL name the setting that gave it."""
    from storage.exceptions import DatabaseRefused, InvalidDatabaseURL

    if isinstance(error, InvalidDatabaseURL):
        return UserError(database_url_message(error, bad_url=True), exit_code=2)
    if isinstance(error, DatabaseRefused):
        return UserError(database_url_message(error, bad_url=False), exit_code=1)
    return UserError(str(error), exit_code=1)


#: Where this command's database URL came from, recorded by ``settings_from``: the
#: option, the environment variable, or None for the embedded server's.
_database_url_source: list[str | None] = [None]


def database_url_message(error: Exception, *, bad_url: bool) -> str:
    """The storage error's message, prefixed with the setting that gave the URL."""
    source = _database_url_source[0]
    if source is None:  # the embedded server's own URL: the message is all there is
        return str(error)
    hint = ""
    if bad_url and source.startswith("FINSENT_"):
        hint = f" (or unset {source} for the embedded PostgreSQL server)"
    return f"{source}: {error}{hint}"


class UserError(click.ClickException):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclass(frozen=True)
class Option:
    """A setting's option where a command shows it otherwise than the setting's Field:
    ``Option("broker.port", "--broker-port")``. Unset parts come from the Field."""

    setting: str
    flag: str | None = None
    help: str | None = None
    metavar: str | None = None


def settings_options(*settings: str | Option) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give a command one option per setting (``"concern.field"``) and its ``settings``.

    Each option is derived from the setting's Field: its name (``--<field>``, or the
    field's ``Flag``), its type, and its help (the description and the environment
    variable). An option given overrides the environment; one not given leaves the
    setting to the environment or its default. The command receives the settings, read
    once (``settings_from``), as its ``settings`` argument; the options' values are not
    passed on by themselves. Options appear in ``--help`` in the order given, where the
    decorator stands among the command's other options.
    """
    options = [s if isinstance(s, Option) else Option(s) for s in settings]
    for option in options:
        setting_field(option.setting)  # an unknown name fails at import, naming it

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> R:
            overrides: dict[str, dict[str, Any]] = {}
            for option in options:
                concern, field, _ = setting_field(option.setting)
                overrides.setdefault(concern, {})[field] = kwargs.pop(_dest(option.setting))
            return command(*args, settings=settings_from(overrides), **kwargs)

        for option in reversed(options):  # click lists the last one applied first
            run = _setting_click_option(option)(run)
        return run

    return decorate


def _dest(setting: str) -> str:
    """The click parameter that carries ``setting``'s option (no clash with the command's)."""
    return "setting__" + setting.replace(".", "__")


def _setting_click_option(option: Option) -> Callable[[F], F]:
    concern, field, info = setting_field(option.setting)
    flag = option.flag or option_flag(concern, field)
    kind = _click_type(option.setting, info.annotation)
    decls = [f"{flag}/--no-{flag.removeprefix('--')}" if kind is click.BOOL else flag]
    return click.option(
        *decls,
        _dest(option.setting),
        type=None if kind is click.BOOL else kind,
        default=None,
        show_default=False,
        metavar=option.metavar,
        help=_setting_help(concern, field, option.help),
    )


#: The click type of each setting type; a Literal is a choice of its values.
_CLICK_TYPES: dict[Any, click.ParamType] = {
    str: click.STRING,
    SecretStr: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    bool: click.BOOL,
    Path: click.Path(path_type=Path),
}


def _click_type(setting: str, annotation: Any) -> click.ParamType:
    if get_origin(annotation) in (Union, UnionType):  # X | None: optional, X is the type
        (annotation,) = (a for a in get_args(annotation) if a is not type(None))
    if get_origin(annotation) is Literal:
        return click.Choice([str(value) for value in get_args(annotation)])
    if annotation not in _CLICK_TYPES:
        raise TypeError(f"setting {setting} has a type no option takes: {annotation!r}")
    return _CLICK_TYPES[annotation]


def _setting_help(concern: str, field: str, help: str | None) -> str:
    text = help or CONCERNS[concern].model_fields[field].description or ""
    return f"{text} [env: {env_var(concern, field)}]"


def setting_option(
    *param_decls: str, concern: str, field: str, help: str | None = None, **kwargs: Any
) -> Callable[[F], F]:
    """One CLI option that overrides one setting, its value passed to the command, which
    puts it into ``settings_from``'s overrides itself. Prefer ``settings_options``."""
    kwargs.setdefault("default", None)
    kwargs.setdefault("show_default", False)
    return click.option(*param_decls, help=_setting_help(concern, field, help), **kwargs)


def settings_from(overrides: dict[str, dict[str, Any]] | None = None) -> Settings:
    """Read the settings once for this command and configure logging from them."""
    settings = load_settings(overrides)
    logs.configure(settings.general.log_level, fmt=settings.general.log_format)
    if settings.database_url is None:
        _database_url_source[0] = None
    elif (overrides or {}).get("database", {}).get("url") is not None:
        _database_url_source[0] = option_flag("database", "url")
    else:
        _database_url_source[0] = env_var("database", "url")
    return settings


@click.group(cls=FinsentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="finsent")
def cli() -> None:
    """finsent: a streaming financial-news sentiment monitor.

    Settings come from FINSENT_* environment variables (see `finsent config`); options
    on the commands override them.
    """


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM, for commands that run until stopped."""
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _on_signal)
    return stop


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        cli.main(args=argv, prog_name="finsent", standalone_mode=True)
    except KeyboardInterrupt:  # pragma: no cover - click turns it into Abort already
        sys.exit(130)
