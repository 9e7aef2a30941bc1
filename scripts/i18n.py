"""Maintain the Babel catalogs under marketplace/translations.

Usage (from anywhere; paths are resolved from the repository root):

    python scripts/i18n.py extract   # source tree -> marketplace/translations/messages.pot
    python scripts/i18n.py update    # .pot -> zh_CN and en messages.po (created when missing)
    python scripts/i18n.py compile   # every messages.po -> messages.mo next to it
    python scripts/i18n.py check     # exit 1 if a zh_CN message is untranslated, fuzzy or broken
    python scripts/i18n.py all       # extract + update + compile + check
    python scripts/i18n.py translate FILE.json ...  # extract + update, fill zh_CN from
                                     # {"msgid": "译文"} files, compile (under a file lock,
                                     # so several people can run it at once)

Usual flow after changing user-facing strings: ``extract``, ``update``, translate the new
entries in zh_CN/LC_MESSAGES/messages.po (the .po is the source of truth), ``compile``,
``check``. The en catalog stays empty on purpose: English falls back to the msgids.

Output is kept stable for review: entries sorted by file, no line wrapping, obsolete
entries dropped, and no fuzzy matching (a guessed translation would otherwise be shown
as soon as someone clears the flag by mistake). A catalog whose only change would be
its POT-Creation-Date / PO-Revision-Date header is left untouched on disk.

.mo files are git-ignored; setup.py also compiles them when the package is built or installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
TRANSLATIONS = ROOT / "marketplace" / "translations"
DOMAIN = "messages"
POT = TRANSLATIONS / f"{DOMAIN}.pot"
LOCALES = ("zh_CN", "en")  # zh_CN is the default interface language
CHECKED_LOCALE = "zh_CN"
KEYWORDS = (
    "_",
    "gettext",
    "ngettext:1,2",
    "_l",
    "lazy_gettext",
    "lazy_ngettext:1,2",
    # A word used in two senses carries a context (msgctxt): "Open" the invoice status
    # (待支付) is not "Open" the button (查看).
    "pgettext:1c,2",
    "lazy_pgettext:1c,2",
    "npgettext:1c,2,3",
)
# In a translations JSON file, a context is written before the msgid with gettext's
# separator: {"action\u0004Open": "查看"}.
CONTEXT_SEPARATOR = "\x04"
PROJECT = "sme-marketplace"
VERSION = "0.1.0"

# Header lines that change on every run without the catalog really changing.
VOLATILE_PREFIXES = ('"POT-Creation-Date:', '"PO-Revision-Date:')


def po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def pybabel(*args: str) -> None:
    """Run a pybabel subcommand in-process (same interpreter and Babel version)."""
    status = CommandLineInterface().run(["pybabel", "--quiet", *args])
    if status:
        raise SystemExit(status)


def _stable_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(VOLATILE_PREFIXES)]


def replace_if_changed(generated: Path, target: Path) -> bool:
    """Move *generated* onto *target* unless they differ only in volatile header dates."""
    new_text = generated.read_text(encoding="utf-8")
    if target.exists() and _stable_lines(target.read_text(encoding="utf-8")) == _stable_lines(
        new_text
    ):
        generated.unlink()
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(generated), str(target))
    return True


def _report(path: Path, changed: bool, verb: str = "wrote") -> None:
    print(f"{verb if changed else 'unchanged'}: {path.relative_to(ROOT)}")


def cmd_extract() -> None:
    keyword_args = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / POT.name
        cwd = os.getcwd()
        os.chdir(ROOT)  # keep "#: marketplace/forms.py:12" locations relative to the repo
        try:
            pybabel(
                "extract",
                "-F",
                str(MAPPING),
                *keyword_args,
                "--add-comments",
                "TRANSLATORS:",
                "--sort-by-file",
                "--no-wrap",
                "--project",
                PROJECT,
                "--version",
                VERSION,
                "--copyright-holder",
                PROJECT,
                "-o",
                str(out),
                ".",
            )
        finally:
            os.chdir(cwd)
        _report(POT, replace_if_changed(out, POT))


def cmd_update() -> None:
    if not POT.exists():
        raise SystemExit(f"{POT.relative_to(ROOT)} is missing; run 'extract' first")
    for locale in LOCALES:
        target = po_path(locale)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            pybabel(
                "init", "-i", str(POT), "-o", str(target), "-l", locale, "-D", DOMAIN, "--no-wrap"
            )
            _report(target, True, "created")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / target.name
            shutil.copyfile(target, work)
            pybabel(
                "update",
                "-i",
                str(POT),
                "-o",
                str(work),
                "-l",
                locale,
                "-D",
                DOMAIN,
                "--ignore-obsolete",
                "--no-fuzzy-matching",
                "--no-wrap",
            )
            _report(target, replace_if_changed(work, target), "updated")


def cmd_compile() -> None:
    for locale in LOCALES:
        if not po_path(locale).exists():
            raise SystemExit(f"{po_path(locale).relative_to(ROOT)} is missing; run 'update' first")
    # Fuzzy entries are never compiled (no --use-fuzzy).
    CommandLineInterface().run(
        ["pybabel", "compile", "-d", str(TRANSLATIONS), "-D", DOMAIN, "--statistics"]
    )
    for locale in LOCALES:
        if not po_path(locale).with_suffix(".mo").exists():
            raise SystemExit(f"no .mo written for {locale} (is the catalog header marked fuzzy?)")


def _read(path: Path, locale: str | None = None):
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def cmd_check() -> int:
    """List every zh_CN message that would not show in Chinese; return the exit status."""
    path = po_path(CHECKED_LOCALE)
    if not path.exists():
        print(f"{path.relative_to(ROOT)} is missing; run 'update' first", file=sys.stderr)
        return 1
    catalog = _read(path, CHECKED_LOCALE)
    problems: list[str] = []
    if catalog.fuzzy:
        problems.append("catalog header is marked fuzzy (pybabel compile would skip the catalog)")
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        if message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif not all(strings):
            problems.append(f"untranslated: {msgid!r}")
    for message, errors in catalog.check():
        msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
        if message.fuzzy or not msgid:
            continue
        for error in errors:
            problems.append(f"placeholder: {msgid!r}: {error}")
    if POT.exists():
        for message in _read(POT):
            if message.id and catalog.get(message.id, context=message.context) is None:
                msgid = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
                problems.append(f"missing (run 'update'): {msgid!r}")
    if problems:
        print(f"{path.relative_to(ROOT)}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{path.relative_to(ROOT)}: all {sum(1 for m in catalog if m.id)} messages translated")
    return 0


def cmd_translate(files: list[Path]) -> int:
    """Extract and update, then fill zh_CN entries from JSON files of {msgid: translation};
    serialized by a lock file so that concurrent runs do not overwrite each other."""
    import fcntl
    import json

    with open(Path(tempfile.gettempdir()) / "marketplace-i18n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cmd_extract()
        cmd_update()
        translations: dict[str, str] = {}
        for file in files:
            translations.update(json.loads(file.read_text(encoding="utf-8")))
        path = po_path(CHECKED_LOCALE)
        catalog = _read(path, CHECKED_LOCALE)
        filled = 0
        for message in catalog:
            key = message.id
            if isinstance(key, str) and message.context:
                key = f"{message.context}{CONTEXT_SEPARATOR}{key}"
            wanted = translations.get(key) if isinstance(key, str) else None
            if wanted is not None and message.string != wanted:
                message.string = wanted
                filled += 1
        with path.open("wb") as handle:
            write_po(handle, catalog, width=0, ignore_obsolete=True)
        print(f"filled {filled} zh_CN translation(s)")
        cmd_compile()
        return cmd_check()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", choices=("extract", "update", "compile", "check", "all", "translate")
    )
    parser.add_argument("files", nargs="*", type=Path, help="JSON files for 'translate'")
    args = parser.parse_args(argv)
    command = args.command
    if command == "translate":
        return cmd_translate(args.files)
    if command in ("extract", "all"):
        cmd_extract()
    if command in ("update", "all"):
        cmd_update()
    if command in ("compile", "all"):
        cmd_compile()
    if command in ("check", "all"):
        return cmd_check()
    return 0


if __name__ == "__main__":
    sys.exit(main())
