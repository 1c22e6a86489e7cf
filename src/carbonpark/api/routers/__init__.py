"""Route modules of the API: every module here exposing ``router: APIRouter`` is included by ``create_app``.

Add ``<capability>.py`` with ``router = APIRouter(prefix="/api/…", tags=["…"])``; see ``docs/api.md``.
"""
