"""Demo: the vendor awaiting verification (精测视觉) has uploaded its business licence, so the
operator's verification page shows it beside the USCC. The picture is drawn with Pillow (a
specimen, not a real licence)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy.orm import Session

from marketplace import licences
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User
from marketplace.uploads import upload_folder

CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc",
)


def _font(size: int) -> Any:
    for path in CJK_FONTS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def specimen(org: Organization) -> bytes:
    """A licence-like picture: title, name, USCC, legal representative, address."""
    image = Image.new("RGB", (900, 620), (252, 248, 236))
    draw = ImageDraw.Draw(image)
    draw.rectangle((14, 14, 885, 605), outline=(170, 40, 40), width=6)
    draw.text((450, 70), "营业执照（样本）", fill=(170, 40, 40), font=_font(48), anchor="mm")
    body = _font(26)
    rows = [
        f"统一社会信用代码  {org.uscc}",
        f"名称  {org.name}",
        f"法定代表人  {org.legal_representative}",
        f"住所  {org.address}"[:34],
        "演示数据 · 非真实证照",
    ]
    for index, text in enumerate(rows):
        draw.text((70, 170 + index * 70), text, fill=(30, 30, 30), font=body)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def load(
    session: Session, *, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    org = orgs.get("vendor2")
    owner = users.get("vendor2@demo.local")
    if org is None or owner is None or licences.licence_of(session, org.id) is not None:
        return {}
    licences.upload(
        session,
        org,
        actor=Actor(owner, org, Role.OWNER),
        data=specimen(org),
        filename="营业执照.png",
        upload_folder=upload_folder(),
        now=utcnow(),
    )
    return {}
