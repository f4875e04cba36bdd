"""``%%prompt``: a notebook cell registered as a prompt version (the notebook face of ``nbops.prompts``).

Parsing and display only; ``nbops.prompts.register`` decides whether the cell's content is new.
Nothing heavy is imported until the magic runs, so ``%load_ext nbops`` stays instant.
"""

from __future__ import annotations

import hashlib

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .magics import _asks_for_help, _unquote  # both faces of the notebook share their helpers


@magics_class
class PromptMagics(Magics):
    """``%%prompt``."""

    @magic_arguments()
    @argument("name", help="Prompt name, e.g. support-reply (prompts:/NAME also accepted).")
    @argument(
        "--alias", "-a", default=None, help="Alias to point at the version, under the promotion policy."
    )
    @argument("--message", "-m", default=None, help="What changed (the version's commit message).")
    @argument("--chat", action="store_true", help="The cell is a YAML or JSON list of role/content messages.")
    @cell_magic
    def prompt(self, line: str, cell: str) -> None:
        """Register this cell as a new version of prompt NAME, only when its content changed.

        Variables are written the MLflow way, ``{{name}}``. The notebook, the cell's hash and the
        git commit are recorded on the version; the variables found and a diff against the
        previous version are printed. An unchanged cell says so and registers nothing. Use it with
        ``nbops.prompts.load("NAME@ALIAS")``; ``%promote prompts:/NAME VERSION --to ALIAS`` and
        ``%rollback prompts:/NAME --alias ALIAS`` move its aliases under the promotion policy.

        Example::

            %%prompt support-reply --chat -m "friendlier"
            - role: system
              content: You answer questions about {{product}} in one paragraph.
            - role: user
              content: "{{question}}"
        """
        from . import lineage, prompts
        from .errors import NbopsError

        if _asks_for_help(self.prompt, line):
            return
        args = parse_argstring(self.prompt, line)
        header = f"%%prompt {line}".rstrip()
        body = cell.removesuffix("\n")
        source = f"{header}\n{body}"
        try:
            result = prompts.register(
                _unquote(args.name),
                body.lstrip("\n").rstrip() if not args.chat else body,
                alias=_unquote(args.alias) if args.alias else None,
                message=_unquote(args.message) if args.message else None,
                chat=args.chat,
                notebook=lineage.notebook_path(self.shell.user_ns),
                cell_hash=hashlib.sha256(source.encode()).hexdigest(),
            )
        except NbopsError as exc:
            raise UsageError(str(exc)) from None
        print(result.summary())
