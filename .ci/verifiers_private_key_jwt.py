"""private_key_jwt (RFC 7523) from Authlib's own OAuth 2.0 client.

A partner registers an application with an RSA public JWK through the admin
API, then gets tokens with Authlib's requests client and its PrivateKeyJWT
client authentication, and calls the API with them. Imported by
verifiers.py; each check takes the Install it built.
"""

from authlib.integrations.requests_client import OAuthError, OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc7523.assertion import private_key_jwt_sign
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

KID = "verifier-rsa"
# Casebook takes assertions that live at most five minutes; Authlib signs
# them for an hour unless told (see authlib_default_lifetime_refused).
LIFETIME_SECS = 60


class ShortLivedPrivateKeyJWT(PrivateKeyJWT):
    """Authlib's PrivateKeyJWT with the one setting Casebook needs: a
    lifetime within five minutes. Its `claims` cannot carry `exp`: Authlib
    adds the `jti` into that dict, so every assertion would share one."""

    def sign(self, auth, token_endpoint):
        return private_key_jwt_sign(
            RSAKey.import_key(auth.client_secret),
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=self.headers,
            alg=self.alg,
            expires_in=LIFETIME_SECS,
        )


class KeyedApplication:
    """An application registered for private_key_jwt with a fresh RSA key."""

    def __init__(self, install):
        self.install = install
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        public_jwk = RSAKey.import_key(self.private_pem).as_dict(private=False)
        public_jwk["kid"] = KID
        assert "d" not in public_jwk, "the JWK to register holds the private key"
        app = install.admin_json(
            "POST", "/admin/v1/external-applications", 201,
            {"name": f"Verifier keyed {install.alg}", "email": "verifier-keyed@casebook.example.org",
             "roles": [install.role_id], "token_endpoint_auth_method": "private_key_jwt",
             "jwks": {"keys": [public_jwk]}},
        )
        assert app["token_endpoint_auth_method"] == "private_key_jwt", app
        self.id = app["id"]
        self.client_id = app["client_id"]

    def session(self, auth):
        # Authlib names the assertion's audience `token_endpoint`; Casebook
        # wants the issuer identifier there (draft-ietf-oauth-rfc7523bis).
        return OAuth2Session(self.client_id, self.private_pem, token_endpoint_auth_method=auth)

    def fetch(self, auth):
        return self.session(auth).fetch_token(self.install.metadata["token_endpoint"],
                                              grant_type="client_credentials")


def keyed(install):
    """One keyed application per install, made on first use."""
    if getattr(install, "keyed", None) is None:
        install.keyed = KeyedApplication(install)
    return install.keyed


def authlib_private_key_jwt_token_opens_the_api(install):
    app = keyed(install)
    methods = install.metadata.get("token_endpoint_auth_methods_supported", [])
    assert "private_key_jwt" in methods, methods
    auth = ShortLivedPrivateKeyJWT(install.issuer, alg="RS256")
    session = app.session(auth)
    token = session.fetch_token(install.metadata["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer" and token["expires_in"] == 3600, token
    me = session.get(install.base + "/api/v1/me", timeout=10)
    assert me.status_code == 200, (me.status_code, me.text[:300])
    me = me.json()
    assert (me["kind"], me["id"]) == ("application", app.id), me
    # A second token: a new assertion with a new jti, accepted although the
    # first one was spent.
    again = app.fetch(auth)
    assert again["access_token"] != token["access_token"]
    return f"RS256 assertion from Authlib's OAuth2Session, /api/v1/me as {me['name']!r}, a second token too"


def authlib_private_key_jwt_ps256(install):
    app = keyed(install)
    supported = install.metadata.get("token_endpoint_auth_signing_alg_values_supported", [])
    assert "PS256" in supported, supported
    app.fetch(ShortLivedPrivateKeyJWT(install.issuer, alg="PS256"))
    return "PS256 assertion accepted"


def authlib_token_endpoint_audience_refused(install):
    """Authlib's own default audience, the token endpoint URL, is refused:
    an assertion must name the issuer alone, so one made for another server's
    endpoint cannot open this one."""
    app = keyed(install)
    try:
        app.fetch(ShortLivedPrivateKeyJWT(alg="RS256"))
    except OAuthError as error:
        assert error.error == "invalid_client", error
        return "an assertion addressed to the token endpoint is invalid_client"
    raise AssertionError("an assertion whose aud is the token endpoint was accepted")


def authlib_default_lifetime_refused(install):
    """Authlib's PrivateKeyJWT unchanged signs assertions valid for an hour,
    beyond Casebook's five minutes: partners must set a short lifetime.
    Should a future Authlib shorten its default, this check fails and the
    partner documentation should be revisited."""
    app = keyed(install)
    try:
        app.fetch(PrivateKeyJWT(install.issuer, alg="RS256"))
    except OAuthError as error:
        assert error.error == "invalid_client", error
        return "its default one-hour assertion is invalid_client, as documented"
    raise AssertionError("an assertion living an hour was accepted, or Authlib's default changed")


CHECKS = [
    authlib_private_key_jwt_token_opens_the_api,
    authlib_private_key_jwt_ps256,
    authlib_token_endpoint_audience_refused,
    authlib_default_lifetime_refused,
]
