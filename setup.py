"""Compile the Babel catalogs (.po -> .mo) whenever the project is built or installed, so a
fresh install shows Chinese without extra steps. Everything else is in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info

HERE = Path(__file__).resolve().parent
TRANSLATIONS = HERE / "marketplace" / "translations"


def compile_catalogs(target_root: Path | None = None) -> None:
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/*.po"):
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parent.parent.name)
        targets = [po_path.with_suffix(".mo")]
        if target_root is not None:
            relative = po_path.relative_to(HERE).with_suffix(".mo")
            targets.append(target_root / relative)
        for mo_path in targets:
            mo_path.parent.mkdir(parents=True, exist_ok=True)
            with mo_path.open("wb") as mo_file:
                write_mo(mo_file, catalog, use_fuzzy=False)


class BuildPyWithCatalogs(build_py):
    def run(self) -> None:
        compile_catalogs(None if self.editable_mode else Path(self.build_lib))
        super().run()


class EggInfoWithCatalogs(egg_info):
    # Editable installs may skip build_py; egg_info always runs.
    def run(self) -> None:
        compile_catalogs()
        super().run()


setup(cmdclass={"build_py": BuildPyWithCatalogs, "egg_info": EggInfoWithCatalogs})
