"""The demo's listings come with screenshots (real PNGs drawn at load, stored like uploads),
FAQ, support, SLA and deployment steps, and the solution page shows them."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from catalog.models import Solution
from catalog.screenshots import screenshot_dir
from devtools.demo.platform import load_demo


@pytest.fixture(autouse=True)
def uploads(config: dict[str, object], tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    config["UPLOAD_FOLDER"] = str(folder)
    return folder


def test_demo_listings_have_screenshots_and_trust_fields(
    app: Flask, client: FlaskClient, session: Session, uploads: Path
) -> None:
    with app.app_context():
        load_demo(app)
    solutions = list(session.scalars(sa.select(Solution).where(Solution.is_public)))
    assert solutions
    for solution in solutions:
        revision = solution.published
        assert len(revision.screenshots) == 2 and revision.faq and revision.deploy_steps
        for shot in revision.screenshots:
            with Image.open(screenshot_dir(uploads) / shot.stored_name) as image:
                assert image.format == "PNG" and image.size == (shot.width, shot.height)
    shown = solutions[0]
    page = client.get(f"/solutions/{shown.slug}").get_data(as_text=True)
    for shot in shown.published.screenshots:
        assert shot.stored_name in page and shot.caption in page
        response = client.get(f"/media/screenshots/{shot.stored_name}")
        assert response.status_code == 200
        response.close()
    assert shown.published.faq[0]["question"] in page
