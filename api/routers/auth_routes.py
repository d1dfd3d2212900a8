"""OAuth2 password flow: username and password -> an 8-hour bearer token (the docs UI's Authorize)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from api.auth import TOKEN_TTL, Principal, current_principal, issue_credential
from api.db.models import User
from api.schemas.service import Me, Token

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=Token, summary="Exchange username and password for a bearer token",
             responses={429: {"description": "too many attempts for this username or from this client "
                                             "(see Retry-After)"}})
async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
    gs = request.app.state.gs
    guard = gs.login  # rate limits, a dummy hash for unknown users, its own hashing pool (api.services.login)
    await guard.check(form.username, request.client.host if request.client else "")
    user = await run_in_threadpool(_user, gs, form.username)
    known = user is not None and user.active
    if not await guard.verify(user.password_hash if known else None, form.password) or not known:
        guard.failed(form.username)
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    secret = await run_in_threadpool(_issue_token, gs, user.id)
    return {"access_token": secret, "token_type": "bearer", "expires_in": int(TOKEN_TTL.total_seconds())}


def _user(gs, username: str) -> User | None:
    with gs.sessions() as session:
        return session.scalar(select(User).where(User.username == username))


def _issue_token(gs, user_id: int) -> str:
    with gs.sessions() as session:
        _, secret = issue_credential(session, session.get(User, user_id), gs.clock.now(), kind="token",
                                     name="password login", ttl=TOKEN_TTL)
        session.commit()
    return secret


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(principal: Principal = Depends(current_principal)) -> dict:
    return {"user_id": principal.user_id, "username": principal.username, "role": principal.role,
            "department_id": principal.department_id, "grid_id": principal.grid_id}
