"""Entry point: a click group whose subcommands are imported only when used.

Lazy loading keeps ``provmark verify`` from paying for a torch import it does not need.
"""

from __future__ import annotations

import importlib

import click

from provmark import __version__

# command name -> ("module:attribute", one-line help); each module owns one command or group.
COMMANDS = {
    "keys": ("provmark.cli.keys:keys", "Create and inspect signing keys and the watermark key."),
    "sign": ("provmark.cli.sign:sign", "Sign images: C2PA manifest, disclosure metadata, watermark."),
    "verify": ("provmark.cli.verify:verify", "Check what images say about themselves, and if it holds."),
    "embed": ("provmark.cli.watermark:embed", "Embed an invisible watermark payload into images."),
    "decode": ("provmark.cli.watermark:decode", "Read invisible watermark payloads from images."),
    "train": ("provmark.cli.train:train", "Train a watermark model (resumable)."),
    "concepts": ("provmark.cli.concepts:concepts", "Manage a concept registry (add, list, import)."),
    "mark": ("provmark.cli.mark:mark", "Mark a whole catalog folder with concept codes."),
    "attribute": ("provmark.cli.attribute:attribute", "Attribute images to registered concepts."),
    "audit": ("provmark.cli.audit:audit", "Audit a model from its samples: which concepts did it learn?"),
    "serve": ("provmark.cli.serve:serve", "Serve the verification page, /verify, soft-binding resolution, /sign."),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target[0].split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List subcommands from the static table, without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="provmark")
def main() -> None:
    """Provenance for images: sign, watermark, mark concepts, verify and attribute."""
