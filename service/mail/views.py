"""What the email templates see: the contact and campaign views, with the
pronouns and the layouts' own words in each language."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Recipient:
    """What templates may know of a contact: deliberately no email, phone or identity code."""

    full_name: str
    nickname: str | None
    language: str
    gender: str
    employer: str | None = None
    position: str | None = None
    city: str | None = None


# (subject, possessive, object) pronouns. "other" is also the fallback for any
# gender not listed; Finnish "hän" carries no gender at all.
PRONOUNS: dict[str, dict[str, tuple[str, str, str]]] = {
    "en": {
        "female": ("she", "her", "her"),
        "male": ("he", "his", "him"),
        "other": ("they", "their", "them"),
    },
    "sv": {
        "female": ("hon", "hennes", "henne"),
        "male": ("han", "hans", "honom"),
        "other": ("hen", "hens", "hen"),
    },
    "fi": {"other": ("hän", "hänen", "hänet")},
}


@dataclass(frozen=True, slots=True)
class ContactView:
    """`contact` in a template: the Recipient's fields, plus the name and pronouns to use."""

    full_name: str
    nickname: str | None
    language: str
    gender: str
    employer: str | None
    position: str | None
    city: str | None
    name: str
    pronoun: str
    possessive: str
    object_pronoun: str

    def __str__(self) -> str:
        return self.name


def contact_view(recipient: Recipient) -> ContactView:
    by_gender = PRONOUNS.get(recipient.language, PRONOUNS["en"])
    pronoun, possessive, object_pronoun = by_gender.get(recipient.gender, by_gender["other"])
    return ContactView(
        full_name=recipient.full_name,
        nickname=recipient.nickname,
        language=recipient.language,
        gender=recipient.gender,
        employer=recipient.employer,
        position=recipient.position,
        city=recipient.city,
        name=recipient.nickname or recipient.full_name,
        pronoun=pronoun,
        possessive=possessive,
        object_pronoun=object_pronoun,
    )


@dataclass(frozen=True, slots=True)
class CampaignView:
    """`campaign` in a template."""

    id: int
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class UiText:
    """The layouts' own words, in the recipient's language."""

    sender: str
    business_id: str
    privacy_contact: str
    unsubscribe: str
    preferences: str
    stop_tracking: str
    # Said by every campaign email next to its unsubscribe link (GDPR 21(4),
    # ePrivacy 13 and the Information Society Code 917/2014 § 202): that it is
    # marketing, and that the person may object to it at any time, free of charge.
    marketing: str
    right_to_object: str


UI_TEXT = {
    "fi": UiText(
        sender="Lähettäjä",
        business_id="Y-tunnus",
        privacy_contact="Tietosuoja-asiat",
        unsubscribe="Peru tilaus",
        preferences="Sähköpostiasetukset",
        stop_tracking="Lopeta avausten ja klikkausten seuranta",
        marketing="Tämä on suoramarkkinointiviesti.",
        right_to_object="Sinulla on oikeus kieltää suoramarkkinointi milloin tahansa maksutta.",
    ),
    "sv": UiText(
        sender="Avsändare",
        business_id="FO-nummer",
        privacy_contact="Dataskyddsfrågor",
        unsubscribe="Avsluta prenumerationen",
        preferences="E-postinställningar",
        stop_tracking="Sluta spåra öppningar och klick",
        marketing="Detta är direktmarknadsföring.",
        right_to_object=(
            "Du har rätt att när som helst och kostnadsfritt invända mot direktmarknadsföring."
        ),
    ),
    "en": UiText(
        sender="Sender",
        business_id="Business ID",
        privacy_contact="Privacy contact",
        unsubscribe="Unsubscribe",
        preferences="Email preferences",
        stop_tracking="Stop tracking opens and clicks",
        marketing="This is a direct marketing message.",
        right_to_object=(
            "You have the right to object to direct marketing at any time, free of charge."
        ),
    ),
}
