"""HTTP routes for behavioural profiles (PROFILES_*) and interactions (CONTACTS_*)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlmodel.ext.asyncio.session import AsyncSession

from service.audit import trail
from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.contacts import service as contacts_service
from service.crypto import DataCipher
from service.profiles import interactions, service
from service.profiles.schemas import (
    InteractionCreate,
    InteractionRead,
    ProfileContent,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
)

Session = NamedDependency[AsyncSession]
Cipher = NamedDependency[DataCipher]
StaffRequest = Request[Principal, Any, Any]
PROFILES_READ = [requires(Permission.PROFILES_READ)]
PROFILES_WRITE = [requires(Permission.PROFILES_WRITE)]


class ContactProfileController(Controller):
    path = "/contacts/{contact_id:int}/profiles"
    tags = ["profiles"]

    @post("/", guards=PROFILES_WRITE, status_code=201)
    async def create_profile(
        self,
        request: StaffRequest,
        db_session: Session,
        cipher: Cipher,
        contact_id: FromPath[int],
        data: JSONBody[ProfileCreate],
    ) -> ProfileRead:
        """Store a behavioural report (encrypted). Needs the person's current
        ``profiling_report`` consent (409 ``no_consent``); a restricted contact is
        409 ``restricted``."""
        contact = await contacts_service.get(db_session, contact_id)
        profile = await service.create(
            db_session, contact=contact, data=data, cipher=cipher, user_id=request.user.user_id
        )
        return service.to_read(profile)

    @get("/", guards=PROFILES_READ)
    async def list_profiles(
        self, db_session: Session, contact_id: FromPath[int]
    ) -> list[ProfileRead]:
        """The contact's profiles, newest first: metadata only, never the content."""
        contact = await contacts_service.get(db_session, contact_id)
        assert contact.id is not None
        return [service.to_read(p) for p in await service.list_(db_session, contact_id=contact.id)]


class ProfileController(Controller):
    path = "/profiles"
    tags = ["profiles"]

    @get("/{profile_id:int}", guards=PROFILES_READ, opt={"audit": "profile.read"})
    async def get_profile(self, db_session: Session, profile_id: FromPath[int]) -> ProfileRead:
        """A profile's metadata."""
        profile = await service.get(db_session, profile_id)
        trail.annotate(db_session, contact_id=profile.contact_id)
        return service.to_read(profile)

    @get("/{profile_id:int}/content", guards=PROFILES_READ, opt={"audit": "profile_content.read"})
    async def get_profile_content(
        self, db_session: Session, cipher: Cipher, profile_id: FromPath[int]
    ) -> ProfileContent:
        """The report itself, decrypted. 410 once handed to the vendor or destroyed."""
        profile = await service.get(db_session, profile_id)
        trail.annotate(db_session, contact_id=profile.contact_id)
        return service.to_content(profile, cipher)

    @patch("/{profile_id:int}", guards=PROFILES_WRITE)
    async def update_profile(
        self, db_session: Session, profile_id: FromPath[int], data: JSONBody[ProfileUpdate]
    ) -> ProfileRead:
        """Record whether the person has a vendor account, or that they forbade
        the transfer (``transfer_forbidden``). 409 once the profile is no longer kept."""
        profile = await service.get(db_session, profile_id)
        contact = await contacts_service.get(db_session, profile.contact_id)
        profile = await service.update(db_session, profile=profile, contact=contact, data=data)
        return service.to_read(profile)


class InteractionController(Controller):
    path = "/contacts/{contact_id:int}/interactions"
    tags = ["interactions"]

    @post("/", guards=[requires(Permission.CONTACTS_WRITE)], status_code=201)
    async def record_interaction(
        self,
        request: StaffRequest,
        db_session: Session,
        contact_id: FromPath[int],
        data: JSONBody[InteractionCreate],
    ) -> InteractionRead:
        """Record a service contact, a contact initiative or a purchase; the
        contact's ``last_service_contact_at`` moves forward to it. A purchase may
        carry soft opt-in's evidence (``product_group``, ``address_collected``,
        ``refusal_offered``), which the consent gate reads. A purchase under a
        purchase-registration ban, its evidence included, is 409
        ``purchase_registration_ban``."""
        contact = await contacts_service.get(db_session, contact_id)
        interaction = await interactions.record(
            db_session, contact=contact, data=data, user_id=request.user.user_id
        )
        return interactions.to_read(interaction)

    @get("/", guards=[requires(Permission.CONTACTS_READ)])
    async def list_interactions(
        self, db_session: Session, contact_id: FromPath[int]
    ) -> list[InteractionRead]:
        """The contact's interactions, newest first."""
        contact = await contacts_service.get(db_session, contact_id)
        assert contact.id is not None
        rows = await interactions.list_(db_session, contact_id=contact.id)
        return [interactions.to_read(row) for row in rows]
