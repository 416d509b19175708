"""Jupyter server settings for `make lab` (passed with --config; your own config still loads).

Saving a notebook tidies its metadata first (helpers._support.notebooks.pre_save_hook): the
kernel's name and the language stay, the interpreter's patch version and the viewer's layout
go, so opening, running and saving a notebook leaves `git status` clean apart from outputs.
"""

from helpers._support.notebooks import pre_save_hook

c = get_config()  # type: ignore[name-defined]  # noqa: F821  (Jupyter's config loader)
c.FileContentsManager.pre_save_hook = pre_save_hook
