"""OAuth2 password flow: username and password -> an 8-hour bearer token (the docs UI's Authorize)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import TOKEN_TTL, Principal, current_principal, issue_credential, verify_password
from api.db.models import User
from api.schemas.service import Me, Token
from api.state import db_session

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


@router.post("/token", response_model=Token, summary="Exchange username and password for a bearer token")
def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()],
          session: Session = Depends(db_session)) -> dict:
    gs = request.app.state.gs
    user = session.scalar(select(User).where(User.username == form.username))
    if user is None or not user.active or not verify_password(user.password_hash, form.password):
        raise HTTPException(401, "wrong username or password", headers={"WWW-Authenticate": "Bearer"})
    _, secret = issue_credential(session, user, gs.clock.now(), kind="token", name="password login", ttl=TOKEN_TTL)
    session.commit()
    return {"access_token": secret, "token_type": "bearer", "expires_in": int(TOKEN_TTL.total_seconds())}


@router.get("/me", response_model=Me, summary="Who the credentials belong to")
def me(principal: Principal = Depends(current_principal)) -> dict:
    return {"user_id": principal.user_id, "username": principal.username, "role": principal.role,
            "department_id": principal.department_id, "grid_id": principal.grid_id}
