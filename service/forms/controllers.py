"""HTTP routes for signup forms (forms:read, forms:write) and the consent
texts archive they and the public pages write to (forms:read)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlmodel.ext.asyncio.session import AsyncSession

from service.auth.middleware import requires
from service.auth.permissions import Permission
from service.auth.service import Principal
from service.consent import archive
from service.forms import service
from service.forms.schemas import ConsentTextRead, FormCreate, FormRead, FormUpdate, FormVersionRead
from service.settings import Settings

Session = NamedDependency[AsyncSession]
StaffRequest = Request[Principal, Any, State]
Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**63 - 1)]
Key = Annotated[str, QueryParameter(min_length=1, max_length=120)]
Language = Annotated[str | None, QueryParameter(pattern="^(fi|sv|en)$")]
READ = [requires(Permission.FORMS_READ)]
WRITE = [requires(Permission.FORMS_WRITE)]


def public_url(request: Request[Any, Any, Any]) -> str:
    settings: Settings = request.app.state.settings
    return settings.public_url


class FormController(Controller):
    path = "/forms"
    tags = ["forms"]

    @post("/", guards=WRITE, status_code=201)
    async def create_form(
        self, request: StaffRequest, db_session: Session, data: JSONBody[FormCreate]
    ) -> FormRead:
        """Define a signup form. Its checkbox texts are archived (one version
        per language); a slug in use answers 409."""
        form = await service.create(db_session, data=data, user_id=request.user.user_id)
        return await service.read(db_session, form, public_url=public_url(request))

    @get("/", guards=READ)
    async def list_forms(
        self, request: StaffRequest, db_session: Session, limit: Limit = 50, offset: Offset = 0
    ) -> list[FormRead]:
        """Forms, newest first."""
        forms = await service.list_(db_session, limit=limit, offset=offset)
        return [await service.read(db_session, f, public_url=public_url(request)) for f in forms]

    @get("/{form_id:int}", guards=READ)
    async def get_form(
        self, request: StaffRequest, db_session: Session, form_id: FromPath[int]
    ) -> FormRead:
        """A form with its texts (archived version and hash per language), the
        hosted link and the embed snippets."""
        form = await service.get(db_session, form_id)
        return await service.read(db_session, form, public_url=public_url(request))

    @patch("/{form_id:int}", guards=WRITE)
    async def update_form(
        self,
        request: StaffRequest,
        db_session: Session,
        form_id: FromPath[int],
        data: JSONBody[FormUpdate],
    ) -> FormRead:
        """Change a form: the fields sent replace its own, and the result is
        checked whole. Each change is the next version; changed texts are
        archived as new versions, unchanged ones keep theirs."""
        form = await service.get(db_session, form_id)
        form = await service.update(db_session, form=form, data=data, user_id=request.user.user_id)
        return await service.read(db_session, form, public_url=public_url(request))

    @get("/{form_id:int}/versions", guards=READ)
    async def list_versions(
        self, db_session: Session, form_id: FromPath[int]
    ) -> list[FormVersionRead]:
        """Every version of the form, newest first, each as it was."""
        form = await service.get(db_session, form_id)
        return [
            await service.version(db_session, form, row.version)
            for row in await service.versions(db_session, form)
        ]

    @get("/{form_id:int}/versions/{version:int}", guards=READ)
    async def get_version(
        self, db_session: Session, form_id: FromPath[int], version: FromPath[int]
    ) -> FormVersionRead:
        """The form as it was at one version, with the texts shown then."""
        form = await service.get(db_session, form_id)
        return await service.version(db_session, form, version)


class ConsentTextController(Controller):
    path = "/consent-texts"
    tags = ["forms"]

    @get("/", guards=READ)
    async def list_texts(
        self, db_session: Session, key: Key, language: Language = None
    ) -> list[ConsentTextRead]:
        """Every archived version of a text, oldest first: e.g.
        ``key=form:news:email.direct_marketing``, ``preferences:email.direct_marketing``,
        ``unsubscribe:email``."""
        texts = await service.consent_texts(db_session, key=key, language=language)
        return [service.text_read(text) for text in texts]

    @get("/{text_id:int}", guards=READ)
    async def get_text(self, db_session: Session, text_id: FromPath[int]) -> ConsentTextRead:
        """One archived version: its key, language, version, words and hash."""
        if not 0 < text_id < 2**63:
            text_id = 0  # cannot exist: answered 404 below
        return service.text_read(await archive.get(db_session, text_id))
