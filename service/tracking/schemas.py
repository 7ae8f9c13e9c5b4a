"""Bodies for the website's cookie banner: its archived texts, by language."""

from __future__ import annotations

from pydantic import BaseModel, Field

from service.tracking.site_consent import Banner


class BannerTextRead(BaseModel):
    id: int = Field(description="The archived text's id (`consent_texts`), as ledger rows name it.")
    version: int = Field(description="This category's text version in this language.")
    hash: str = Field(description="SHA-256 of the exact words (UTF-8), hex.")
    text: str


class BannerRead(BaseModel):
    id: int = Field(description="The archived banner's id (key `banner`).")
    language: str
    version: int = Field(
        description="The banner version: pass it with a decision to `POST /t/consent`."
    )
    hash: str = Field(description="SHA-256 of the whole banner (every category's words).")
    categories: dict[str, BannerTextRead]

    @classmethod
    def of(cls, banner: Banner) -> BannerRead:
        return cls(
            id=banner.id,
            language=banner.language,
            version=banner.version,
            hash=banner.hash,
            categories={
                category.value: BannerTextRead(
                    id=text.id, version=text.version, hash=text.hash, text=text.text
                )
                for category, text in banner.categories.items()
            },
        )
