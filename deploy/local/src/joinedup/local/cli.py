"""The ``joinedup`` command. Local-runtime verbs (broker, topics) live here; each installed joinedup package
adds its own verbs through the ``joinedup.cli`` entry-point group (a ``register(app)`` function), so this
module never imports a service."""

from __future__ import annotations

from importlib.metadata import entry_points

import typer

from joinedup.local.commands import broker_app, demo, down, topics_app, up
from joinedup.local.deploy_commands import deploy_app
from joinedup.local.simulate_commands import simulate

app = typer.Typer(
    name="joinedup",
    help="joinedup: a cross-agency referral broker for public services.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.command("demo")(demo)
app.command("up")(up)
app.command("down")(down)
app.command("simulate")(simulate)
app.add_typer(deploy_app, name="deploy")


_registered = False


def register_plugins() -> typer.Typer:
    """Add every installed package's verbs (once) and return the complete app."""
    global _registered
    if not _registered:
        for ep in sorted(entry_points(group="joinedup.cli"), key=lambda e: e.name):
            register = ep.load()
            register(app)
        _registered = True
    return app


def main() -> None:
    register_plugins()()
