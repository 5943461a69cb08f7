"""The accounts API: sign up, get or revoke a token, become an anonymous visitor.

`POST /api/auth/signup/` creates an account under the same rules as the
signup page (400 `{field: [messages]}` otherwise); when the caller was an
anonymous visitor (by session or by token), its requests move to the new
account. `POST /api/auth/token/` trades a username (or email) and password
for a token; `DELETE` revokes the token sent. `POST /api/auth/anonymous/`
makes a new anonymous identity and returns its token.
"""

from typing import Any

from allauth.account.utils import has_verified_email
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from accounts.identity import anonymous_identity_of
from accounts.models import ApiToken, User
from accounts.services import (
    AccountError,
    IssuedToken,
    SignupRejected,
    anonymous_identity_create,
    api_token_issue,
    api_token_revoke,
    signup_confirmation_send,
    user_for_credentials,
    user_signup,
)
from accounts.throttling import (
    AnonymousIdentityThrottle,
    LoginAccountThrottle,
    LoginThrottle,
    SignupThrottle,
)

_Detail = inline_serializer("AccountDetail", {"detail": serializers.CharField()})


class SignupSerializer(serializers.Serializer):
    # Blank and missing values reach the service, which words every message.
    username = serializers.CharField(required=False, allow_blank=True, default="")
    email = serializers.CharField(required=False, allow_blank=True, default="")
    password = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        write_only=True,
    )


class UserSerializer(serializers.ModelSerializer):
    email_verified = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "username", "email", "email_verified", "date_joined"]
        read_only_fields = fields

    def get_email_verified(self, user: User) -> bool:
        return has_verified_email(user)


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=254, help_text="Your username or email address."
    )
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="Send it as `Authorization: Token <token>`."
    )
    expires_at = serializers.DateTimeField()


class AnonymousTokenSerializer(TokenSerializer):
    identity = serializers.UUIDField()


def _token_body(issued: IssuedToken) -> dict[str, Any]:
    return {"token": issued.key, "expires_at": issued.token.expires_at}


def _refuse_signed_in(request: Request, action: str) -> None:
    if request.user.is_authenticated:
        raise AccountError(f"You are signed in already; sign out to {action}.")


class SignupView(APIView):
    throttle_classes = [SignupThrottle]

    @extend_schema(
        summary="Create an account",
        request=SignupSerializer,
        responses={201: UserSerializer, 400: _Detail},
    )
    def post(self, request: Request) -> Response:
        _refuse_signed_in(request, "create another account")
        submitted = SignupSerializer(data=request.data)
        submitted.is_valid(raise_exception=True)

        try:
            user = user_signup(
                **submitted.validated_data, anonymous=anonymous_identity_of(request)
            )
        except SignupRejected as rejected:
            raise ValidationError(rejected.errors)
        signup_confirmation_send(request=request._request, user=user)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenView(APIView):
    def get_throttles(self) -> list[BaseThrottle]:
        if self.request.method == "POST":
            return [LoginThrottle(), LoginAccountThrottle()]
        return []

    @extend_schema(
        summary="Get a token for your account",
        request=CredentialsSerializer,
        responses={201: TokenSerializer, 400: _Detail},
    )
    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=request.data)
        credentials.is_valid(raise_exception=True)
        user = user_for_credentials(
            request=request._request,
            login=credentials.validated_data["username"],
            password=credentials.validated_data["password"],
        )
        issued = api_token_issue(user=user)
        return Response(_token_body(issued), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Revoke the token sent with this request",
        request=None,
        responses={204: None, 400: _Detail, 401: _Detail},
    )
    def delete(self, request: Request) -> Response:
        if not isinstance(request.auth, ApiToken):
            raise AccountError(
                "Send the token to revoke in the header: Authorization: Token <key>."
            )
        api_token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnonymousView(APIView):
    throttle_classes = [AnonymousIdentityThrottle]

    @extend_schema(
        summary="Become an anonymous visitor",
        description="A new anonymous identity and the token that opens it. "
        "Requests submitted with the token are visible with that token only; "
        "signing up with it moves them into the new account.",
        request=None,
        responses={201: AnonymousTokenSerializer, 400: _Detail},
    )
    def post(self, request: Request) -> Response:
        _refuse_signed_in(request, "work anonymously")
        issued = anonymous_identity_create()
        body = {**_token_body(issued), "identity": issued.token.anonymous_id}
        return Response(body, status=status.HTTP_201_CREATED)
