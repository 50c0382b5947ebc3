"""Tencent Cloud API errors: `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}`.

The codes are Tencent Cloud's common error codes (API 3.0), so code written against the
official SDK can branch on `TencentCloudSDKException.code` exactly as it does with
Tencent Cloud. Every message is a sentence a user can act on, and never holds a secret.
"""

from __future__ import annotations

# Authentication (checked before the action runs).
INVALID_AUTHORIZATION = "AuthFailure.InvalidAuthorization"
SECRET_ID_NOT_FOUND = "AuthFailure.SecretIdNotFound"
SIGNATURE_EXPIRE = "AuthFailure.SignatureExpire"
SIGNATURE_FAILURE = "AuthFailure.SignatureFailure"
TOKEN_FAILURE = "AuthFailure.TokenFailure"
# Authenticated, but the key may not call this action (a read-only key and a write).
UNAUTHORIZED_OPERATION = "UnauthorizedOperation"

# The call itself.
INVALID_ACTION = "InvalidAction"
NO_SUCH_VERSION = "NoSuchVersion"
MISSING_PARAMETER = "MissingParameter"
UNKNOWN_PARAMETER = "UnknownParameter"
INVALID_PARAMETER = "InvalidParameter"
INVALID_PARAMETER_VALUE = "InvalidParameterValue"
UNSUPPORTED_OPERATION = "UnsupportedOperation"

# The resources it names.
RESOURCE_NOT_FOUND = "ResourceNotFound"
RESOURCE_IN_USE = "ResourceInUse"
RESOURCE_UNAVAILABLE = "ResourceUnavailable"
FAILED_OPERATION = "FailedOperation"
# A quota is reached (Tencent Cloud's common code for "exceeds the quota limit").
LIMIT_EXCEEDED = "LimitExceeded"
INTERNAL_ERROR = "InternalError"


class TencentError(Exception):
    """A failed call, answered with HTTP 200 and `Response.Error` as Tencent Cloud does."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def missing(name: str) -> TencentError:
    return TencentError(MISSING_PARAMETER, f"the parameter {name} is required")


def unsupported(message: str) -> TencentError:
    return TencentError(UNSUPPORTED_OPERATION, message)


def bad_value(name: str, message: str) -> TencentError:
    return TencentError(INVALID_PARAMETER_VALUE, f"{name}: {message}")
