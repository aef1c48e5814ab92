"""Identity API: POST /auth/signup, POST /auth/login, POST /auth/refresh (public) and GET /me (JWT)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from backbeat.config import IdentitySettings
from backbeat.http import caller_id, create_resolver
from backbeat.identity import service
from backbeat.identity.login_guard import LoginGuard
from backbeat.identity.models import bind_users_table
from backbeat.observability import HTTP_API, count, lambda_entry, tracer

settings = IdentitySettings()
bind_users_table(settings.users_table)
pool = service.UserPool(settings.user_pool_id, settings.user_pool_client_id, settings.auto_confirm_signup)
app = create_resolver()
login_guard = LoginGuard.from_settings()

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
    ),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=256)]


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: Email
    password: Password = Field(repr=False)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refreshToken: str = Field(min_length=1, max_length=4096, repr=False)


class Profile(BaseModel):
    userId: str
    email: str
    tier: str = Field(description="free or premium")


class SignedUp(Profile):
    confirmed: bool = Field(description="False until the emailed code is confirmed (production)")


class Tokens(BaseModel):
    accessToken: str = Field(description="Send as `Authorization: Bearer <accessToken>`")
    idToken: str
    refreshToken: str | None = None
    expiresIn: int = Field(description="Seconds the access token stays valid")
    tokenType: str = "Bearer"


@app.post("/auth/signup", status_code=201)
@tracer.capture_method
def signup(body: Credentials) -> Response[SignedUp]:
    user = SignedUp.model_validate(service.signup(pool, body.email, body.password))
    count("SignUps")
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=user)


@app.post("/auth/login")
@tracer.capture_method
def login(body: Credentials) -> Tokens:
    source_ip = app.current_event.request_context.http.source_ip
    tokens = login_guard.attempt(body.email, source_ip, lambda: service.login(pool, body.email, body.password))
    return Tokens.model_validate(tokens)


@app.post("/auth/refresh")
@tracer.capture_method
def refresh(body: RefreshRequest) -> Tokens:
    return Tokens.model_validate(service.refresh(pool, body.refreshToken))


@app.get("/me")
@tracer.capture_method
def me() -> Profile:
    return Profile.model_validate(service.me(caller_id(app)))


@lambda_entry(HTTP_API)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
