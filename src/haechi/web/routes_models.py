"""Model pages: one per model fingerprint, the release view (``haechi report`` writes the
same page as a file)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from haechi.model_summary import list_models, model_summary
from haechi.web.app import ViewerDep, render, state
from haechi.web.report import model_context

router = APIRouter()


@router.get("/models")
def models_page(request: Request, who: ViewerDep) -> Response:
    return render(request, "models.html", who, models=list_models(state(request).store))


@router.get("/models/{fingerprint}")
def model_page(fingerprint: str, request: Request, who: ViewerDep, against: str = "") -> Response:
    summary = model_summary(state(request).store, fingerprint, who.account, against=against or None)
    return render(request, "model.html", who, **model_context(summary))
