"""Casebook's tokens, checked by the libraries partners' resource servers use.

Run by .ci/verifiers.sh against a fresh live server:

    verifiers.py --alg RS256 http://127.0.0.1:PORT
    verifiers.py --alg RS256 --foreign http://127.0.0.1:PORT http://127.0.0.1:PORT/t/SLUG

with CASEBOOK_ADMIN_EMAIL / CASEBOOK_ADMIN_PASSWORD naming the first
administrator of the base URL's tenant (and of --foreign's). It registers one
external application, takes a token with the client credentials grant, and
hands that token to Authlib's RFC 9068 validator and to PyJWT exactly as a
partner would: keys from the published JWKS, the libraries' own defaults, no
special cases for Casebook. It also registers a private_key_jwt application
with an RSA key and gets tokens for it with Authlib's OAuth 2.0 client
(verifiers_private_key_jwt.py). It prints one line per check and exits 1
when any check fails, with the library's error, the token's header and claims
and the JWK on stderr.

--alg is the algorithm the install was started with (RS256 when nothing was
set): the token and the JWKS must use it. --foreign names another issuer of
the same install (the root, for a tenant's base URL): a token it issues must
be refused by Authlib's validator configured for the base URL.
"""

import argparse
import base64
import json
import os
import sys
import traceback
import urllib.error
import urllib.parse
import urllib.request

import jwt
from authlib.oauth2.rfc6750.errors import InsufficientScopeError, InvalidTokenError
from authlib.oauth2.rfc9068 import JWTBearerTokenValidator
from joserfc.errors import BadSignatureError, InvalidClaimError, UnsupportedAlgorithmError
from joserfc.jwk import KeySet

import verifiers_private_key_jwt

TIMEOUT = 10
# An audience the server never issues for: a resource server configured with
# it must refuse Casebook's tokens.
OTHER_AUDIENCE = "https://other-resource.example.org"
INTROSPECTION_JWT = "application/token-introspection+jwt"


# ----------------------------------------------------------------- HTTP


def http(method, url, *, json_body=None, form=None, bearer=None, basic=None, accept=None):
    """One request with the stdlib; returns (status, headers, body bytes)."""
    headers = {}
    data = None
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if bearer is not None:
        headers["Authorization"] = "Bearer " + bearer
    if basic is not None:
        # RFC 6749 §2.3.1: each part form-urlencoded before Basic encoding.
        user, password = (urllib.parse.quote(part, safe="") for part in basic)
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if accept is not None:
        headers["Accept"] = accept
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def http_json(method, url, expect, **kwargs):
    status, _, body = http(method, url, **kwargs)
    if status != expect:
        raise RuntimeError(f"{method} {url}: expected {expect}, got {status}: {body[:500]!r}")
    return json.loads(body)


# ----------------------------------------------------------------- setup


class Install:
    """One live server, an application registered on it, and one of its tokens."""

    def __init__(self, base, alg, email, password, purpose=None):
        self.base = base
        self.alg = alg
        # A tenant's lines name its path, so that its run reads apart from the root's.
        path = urllib.parse.urlsplit(base).path
        self.label = f"{alg} {path}" if path else alg
        self.metadata = http_json("GET", base + "/.well-known/oauth-authorization-server", 200)
        self.issuer = self.metadata["issuer"]
        self.jwks_uri = self.metadata["jwks_uri"]
        # RFC 9068: aud is the resource, Casebook's public URL (= the issuer).
        self.audience = base

        session = http_json("POST", base + "/admin/v1/sessions", 201,
                            json_body={"email": email, "password": password})["token"]
        self.session = session
        roles = http_json("GET", base + "/admin/v1/roles", 200, bearer=session)["items"]
        # A tenant's seeded roles keep their names but carry ids of their
        # own; failing both, any role without admin:delete, which the scope
        # checks expect refused.
        role = next((r for r in roles if r["id"] == "engage-worker"), None) or next(
            (r for r in roles if r["name"] == "Engage Worker"), None
        ) or next(r for r in roles if r["permissions"] and "admin:delete" not in r["permissions"])
        app = http_json("POST", base + "/admin/v1/external-applications", 201, bearer=session,
                        json_body={"name": f"Verifier check {alg}" + (f" ({purpose})" if purpose else ""),
                                   # An application's address is unique in its tenant, and a
                                   # second purpose registers a second application there.
                                   "email": "verifier-check" + (f"+{purpose}" if purpose else "")
                                            + "@casebook.example.org",
                                   "roles": [role["id"]]})
        self.client_id = app["client_id"]
        self.client_secret = http_json(
            "POST", f"{base}/admin/v1/external-applications/{app['id']}/client-secret/reveal", 200,
            bearer=session, json_body={"password": password},
        )["client_secret"]
        self.permission = role["permissions"][0]
        self.role_id = role["id"]

        self.token = http_json("POST", self.metadata["token_endpoint"], 200,
                               form={"grant_type": "client_credentials"},
                               basic=(self.client_id, self.client_secret))["access_token"]

    def jwks(self):
        return http_json("GET", self.jwks_uri, 200)

    def admin_json(self, method, path, expect, body):
        return http_json(method, self.base + path, expect, bearer=self.session, json_body=body)


def b64url_json(segment):
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def b64url(obj):
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def altered(token):
    """The token with one more permission in its scope and its signature kept:
    what a client that tries to widen its own token would send."""
    header, payload, signature = token.split(".")
    claims = b64url_json(payload)
    claims["scope"] = claims.get("scope", "") + " admin:delete"
    return ".".join([header, b64url(claims), signature])


# ----------------------------------------------------------------- Authlib


def authlib_validator(install, resource_server, jwks=None):
    """A partner's Authlib resource server: the RFC 9068 validator, its
    default algorithms, keys from the jwks_uri in the issuer's metadata."""

    class CasebookValidator(JWTBearerTokenValidator):
        def get_jwks(self):
            return KeySet.import_key_set(jwks if jwks is not None else install.jwks())

    return CasebookValidator(issuer=install.issuer, resource_server=resource_server)


def cause(error):
    return error.__cause__ if error.__cause__ is not None else error


def authlib_accepts(install):
    """A partner's Flask/Django resource protector authenticates the bearer
    token and then checks it holds the scope the endpoint needs."""
    validator = authlib_validator(install, install.audience)
    token = validator.authenticate_token(install.token)
    validator.validate_token(token, scopes=[install.permission], request=None)
    assert token["client_id"] == install.client_id, token
    try:
        validator.validate_token(token, scopes=["admin:delete"], request=None)
    except InsufficientScopeError:
        pass
    else:
        raise AssertionError("a scope the token does not hold (admin:delete) was granted")
    return f"accepted ({install.permission} granted, admin:delete refused)"


def authlib_refuses_altered(install):
    """A token whose payload was changed after signing fails the signature."""
    validator = authlib_validator(install, install.audience)
    try:
        validator.validate_token(validator.authenticate_token(altered(install.token)),
                                 scopes=[install.permission], request=None)
    except InvalidTokenError as error:
        assert isinstance(cause(error), BadSignatureError), repr(cause(error))
        return "refused an altered payload (bad signature)"
    raise AssertionError("an altered token was accepted")


def authlib_refuses_other_audience(install):
    """A resource server that is not Casebook refuses a token for Casebook."""
    validator = authlib_validator(install, OTHER_AUDIENCE)
    try:
        validator.validate_token(validator.authenticate_token(install.token),
                                 scopes=[install.permission], request=None)
    except InvalidTokenError as error:
        err = cause(error)
        assert isinstance(err, InvalidClaimError) and err.claim == "aud", repr(err)
        return "refused for another audience (invalid aud)"
    raise AssertionError(f"a token for {install.audience} was accepted by {OTHER_AUDIENCE}")


def authlib_refuses_foreign(install):
    """A resource server of this issuer refuses a token of another issuer on
    the same install: by its key, and by iss and aud even when it trusts the
    other issuer's keys too (a partner serving two agencies)."""
    foreign = install.foreign
    validator = authlib_validator(install, install.audience)
    try:
        validator.validate_token(validator.authenticate_token(foreign.token),
                                 scopes=[foreign.permission], request=None)
    except InvalidTokenError as error:
        by_key = cause(error)
    else:
        raise AssertionError(f"a token of {foreign.issuer} was accepted for {install.issuer}")
    both = {"keys": install.jwks()["keys"] + foreign.jwks()["keys"]}
    validator = authlib_validator(install, install.audience, jwks=both)
    try:
        validator.validate_token(validator.authenticate_token(foreign.token),
                                 scopes=[foreign.permission], request=None)
    except InvalidTokenError as error:
        err = cause(error)
        assert isinstance(err, InvalidClaimError) and err.claim in ("iss", "aud"), repr(err)
        by_claim = err.claim
    else:
        raise AssertionError(f"a token of {foreign.issuer} was accepted with both key sets trusted")
    return (f"refused {foreign.base}'s token: its key ({type(by_key).__name__}), "
            f"and with both key sets trusted, invalid {by_claim}")


def authlib_refuses_eddsa(install):
    """Authlib's RFC 9068 validator takes no algorithm list: it decodes with
    joserfc's recommended algorithms (HS256, RS256, ES256), so an EdDSA
    install's tokens are refused by a partner who uses it unchanged. That is
    why RS256 is Casebook's default. Should a future Authlib accept EdDSA,
    this check fails and the documentation should be revisited."""
    validator = authlib_validator(install, install.audience)
    try:
        validator.validate_token(validator.authenticate_token(install.token),
                                 scopes=[install.permission], request=None)
    except InvalidTokenError as error:
        err = cause(error)
        assert isinstance(err, UnsupportedAlgorithmError) and "EdDSA" in str(err), repr(err)
        return f"refused with its default algorithms, as documented ({err.description})"
    raise AssertionError("Authlib's default algorithms now accept EdDSA: revisit the docs")


# ----------------------------------------------------------------- PyJWT


def pyjwt_decode(install, token, audience):
    """A partner's PyJWT resource server: the key by kid from the JWKS, the
    install's algorithm, audience and issuer checked, the RFC 9068 claims
    required."""
    key = jwt.PyJWKClient(install.jwks_uri, timeout=TIMEOUT).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=[install.alg], audience=audience,
                      issuer=install.issuer,
                      options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]})


def pyjwt_accepts(install):
    """PyJWT verifies signature, exp, iss and aud; RFC 9068 §4 leaves the
    typ check and the client_id to the resource server."""
    claims = pyjwt_decode(install, install.token, install.audience)
    header = jwt.get_unverified_header(install.token)
    assert header.get("typ", "").lower() in ("at+jwt", "application/at+jwt"), header
    assert claims["client_id"] == install.client_id == claims["sub"], claims
    assert claims["exp"] - claims["iat"] == 3600, claims
    return "accepted"


def pyjwt_refuses_altered(install):
    """A token whose payload was changed after signing fails the signature."""
    try:
        pyjwt_decode(install, altered(install.token), install.audience)
    except jwt.InvalidSignatureError:
        return "refused an altered payload (InvalidSignatureError)"
    raise AssertionError("an altered token was accepted")


def pyjwt_refuses_other_audience(install):
    """A resource server that is not Casebook refuses a token for Casebook."""
    try:
        pyjwt_decode(install, install.token, OTHER_AUDIENCE)
    except jwt.InvalidAudienceError:
        return "refused for another audience (InvalidAudienceError)"
    raise AssertionError(f"a token for {install.audience} was accepted by {OTHER_AUDIENCE}")


# ----------------------------------------------------------------- metadata


def metadata_issuer(install):
    """RFC 8414 §3.3: a partner configured with the public URL finds it as
    the metadata's issuer, and the endpoints it needs listed there; an issuer
    with a path answers the same at the §3.1 form, the well-known part
    inserted before the path, where strict clients look."""
    assert install.issuer == install.base, (install.issuer, install.base)
    for name in ("jwks_uri", "introspection_endpoint", "token_endpoint"):
        assert install.metadata.get(name, "").startswith(install.base + "/"), (name, install.metadata)
    url = urllib.parse.urlsplit(install.base)
    if not url.path:
        return "issuer = the public URL; jwks_uri, token and introspection endpoints listed"
    inserted = f"{url.scheme}://{url.netloc}/.well-known/oauth-authorization-server{url.path}"
    assert http_json("GET", inserted, 200) == install.metadata, inserted
    return "issuer = the base URL; endpoints listed under it; the same at the RFC 8414 §3.1 form"


# ----------------------------------------------------------------- JWKS


def jwks_shape(install):
    """Every published key says what it is and what it is for, and the key a
    token names by kid is bound to the algorithm the token says it used."""
    keys = install.jwks()["keys"]
    assert keys, "the JWKS is empty"
    for key in keys:
        missing = [m for m in ("kid", "kty", "alg", "use") if m not in key]
        assert not missing, f"a JWK lacks {missing}: {key}"
        assert key["use"] == "sig", key
    header = jwt.get_unverified_header(install.token)
    jwk = next((k for k in keys if k["kid"] == header.get("kid")), None)
    assert jwk is not None, f"no JWK has the token's kid: {header}"
    assert header["alg"] == jwk["alg"] == install.alg, (header, jwk)
    return f"{len(keys)} key(s) with kid, kty, alg, use=sig; token alg {header['alg']} = JWK alg"


# ----------------------------------------------------------------- RFC 9701


def introspect_jwt(install, token):
    """POST the token to the introspection endpoint as the client, asking
    for a signed answer, and verify that answer with PyJWT."""
    status, headers, body = http("POST", install.metadata["introspection_endpoint"],
                                 form={"token": token},
                                 basic=(install.client_id, install.client_secret),
                                 accept=INTROSPECTION_JWT)
    assert status == 200, (status, body[:500])
    content_type = headers.get("Content-Type", "").split(";")[0].strip().lower()
    assert content_type == INTROSPECTION_JWT, content_type
    answer = body.decode()
    header = jwt.get_unverified_header(answer)
    assert header.get("typ") == "token-introspection+jwt", header
    key = jwt.PyJWKClient(install.jwks_uri, timeout=TIMEOUT).get_signing_key_from_jwt(answer)
    # RFC 9701 answers carry no exp: require what they do carry instead.
    claims = jwt.decode(answer, key.key, algorithms=[install.alg], audience=install.client_id,
                        issuer=install.issuer, options={"require": ["iss", "aud", "iat"]})
    return claims["token_introspection"]


def introspection_active(install):
    """A resource server introspecting a live token gets a signed answer,
    for itself (aud = its client_id), saying the token is active."""
    answer = introspect_jwt(install, install.token)
    assert answer.get("active") is True, answer
    assert answer.get("client_id") == install.client_id, answer
    return "signed answer verified (typ, iss, aud = client_id, iat): active"


def introspection_garbage(install):
    """A token that is not one of the server's is inactive, and says nothing else."""
    answer = introspect_jwt(install, "not-a-casebook-token")
    assert answer == {"active": False}, answer
    return 'garbage token: signed answer verified: {"active": false}'


# ----------------------------------------------------------------- runner

AUTHLIB = "authlib JWTBearerTokenValidator"
PYJWT = "PyJWT PyJWKClient + jwt.decode"
INTROSPECTION = "RFC 9701 introspection (PyJWT)"

PUBLISHED = [
    ("RFC 8414 metadata", metadata_issuer),
    ("JWKS", jwks_shape),
]
AUTHLIB_ACCEPTS = [
    (AUTHLIB, authlib_accepts),
    (AUTHLIB, authlib_refuses_altered),
    (AUTHLIB, authlib_refuses_other_audience),
]
PYJWT_AND_INTROSPECTION = [
    (PYJWT, pyjwt_accepts),
    (PYJWT, pyjwt_refuses_altered),
    (PYJWT, pyjwt_refuses_other_audience),
    (INTROSPECTION, introspection_active),
    (INTROSPECTION, introspection_garbage),
]
# The client side: whatever signs Casebook's tokens, Authlib's client signs
# its own assertions with the partner's RSA key.
AUTHLIB_CLIENT = [("authlib PrivateKeyJWT client", check)
                  for check in verifiers_private_key_jwt.CHECKS]
CHECKS = {
    "RS256": PUBLISHED + AUTHLIB_ACCEPTS + PYJWT_AND_INTROSPECTION + AUTHLIB_CLIENT,
    "ES256": PUBLISHED + AUTHLIB_ACCEPTS + PYJWT_AND_INTROSPECTION + AUTHLIB_CLIENT,
    # With Authlib refusing every EdDSA token, its altered and other-audience
    # refusals would prove nothing: PyJWT's do.
    "EdDSA": PUBLISHED + [(AUTHLIB, authlib_refuses_eddsa)] + PYJWT_AND_INTROSPECTION + AUTHLIB_CLIENT,
}


def describe(error):
    """The error and what caused it: Authlib wraps joserfc's reason in a
    generic InvalidTokenError."""
    text = f"{type(error).__name__}: {error}"
    if error.__cause__ is not None:
        text += f" (from {type(error.__cause__).__name__}: {error.__cause__})"
    return text


def report_failure(install, name, error):
    print(f"--- {install.label} {name}: {describe(error)}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    header, payload, _ = install.token.split(".")
    print("token header:", json.dumps(b64url_json(header)), file=sys.stderr)
    print("token claims:", json.dumps(b64url_json(payload)), file=sys.stderr)
    print("JWKS:", json.dumps(install.jwks()), file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alg", required=True, choices=sorted(CHECKS))
    parser.add_argument("--foreign", metavar="URL",
                        help="another issuer of the install, whose tokens the base URL must refuse")
    parser.add_argument("base", help="the server's public URL, or a tenant's base URL")
    args = parser.parse_args()

    email, password = os.environ["CASEBOOK_ADMIN_EMAIL"], os.environ["CASEBOOK_ADMIN_PASSWORD"]
    install = Install(args.base.rstrip("/"), args.alg, email, password)
    checks = list(CHECKS[args.alg])
    if args.foreign:
        if args.alg == "EdDSA":
            parser.error("Authlib refuses every EdDSA token: --foreign would prove nothing")
        install.foreign = Install(args.foreign.rstrip("/"), args.alg, email, password, purpose="foreign")
        checks.append((AUTHLIB, authlib_refuses_foreign))
    label = install.label
    passed = failed = 0
    for library, check in checks:
        try:
            outcome = check(install)
            passed += 1
        except Exception as error:  # noqa: BLE001 - every failure is reported
            outcome = f"FAILED in {check.__name__}: {describe(error)}"
            failed += 1
            report_failure(install, check.__name__, error)
        print(f"{label:<6} {library:<32} {outcome}", flush=True)
    print(f"{label}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
