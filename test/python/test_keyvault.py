"""The Key Vault peer driven by Microsoft's Python SDK (azure-keyvault-secrets).

Run by test/python/run.ts, which starts the peer as `npm run emulator:keyvault` serves it
(any well-formed bearer token) and passes KV_URL and KV_CA_FILE. Every secrets operation the
peer's README lists has a scenario here.
"""
import base64
import json
import os
import time
import unittest
import uuid

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

URL = os.environ.get("KV_URL", "")
CA_FILE = os.environ.get("KV_CA_FILE", "")


def b64url(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class DevelopmentCredential:
    """Any object with get_token is a credential; this one mints an unsigned JWT for Key Vault."""

    def __init__(self, lifetime=3600, audience="https://vault.azure.net"):
        self.lifetime = lifetime
        self.audience = audience

    def get_token(self, *scopes, **kwargs):
        exp = int(time.time()) + self.lifetime
        token = "%s.%s." % (b64url({"alg": "none", "typ": "JWT"}), b64url({"aud": self.audience, "exp": exp, "sub": "python-lane"}))
        return AccessToken(token, exp)


def client(credential=None):
    return SecretClient(URL, credential or DevelopmentCredential(), verify_challenge_resource=False, connection_verify=CA_FILE, retry_total=0)


def name():
    return "py-" + uuid.uuid4().hex[:12]


class Secrets(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not URL:
            raise unittest.SkipTest("KV_URL is not set (run through test/python/run.ts)")
        cls.client = client()

    @classmethod
    def tearDownClass(cls):
        cls.client.close()

    def test_set_then_get_latest_and_by_version(self):
        n = name()
        first = self.client.set_secret(n, "v1", content_type="text/plain", tags={"tenant": "t-1"})
        self.assertEqual((first.name, first.value, first.properties.content_type, first.properties.tags), (n, "v1", "text/plain", {"tenant": "t-1"}))
        self.assertTrue(first.properties.enabled)
        self.assertIsNotNone(first.properties.created_on)
        self.assertEqual(first.id, "%s/secrets/%s/%s" % (URL, n, first.properties.version))
        second = self.client.set_secret(n, "v2")
        self.assertNotEqual(first.properties.version, second.properties.version)
        self.assertEqual(self.client.get_secret(n).value, "v2")
        self.assertEqual(self.client.get_secret(n, first.properties.version).value, "v1")

    def test_values_round_trip_exactly(self):
        n = name()
        value = "p\u00e4ss w\u00f6rd \u20ac \U0001f511 \"quoted\" \\ back\nline"
        self.client.set_secret(n, value)
        self.assertEqual(self.client.get_secret(n).value, value)

    def test_list_versions_and_list_secrets_carry_no_values(self):
        n = name()
        versions = {self.client.set_secret(n, "a").properties.version, self.client.set_secret(n, "b").properties.version}
        listed = list(self.client.list_properties_of_secret_versions(n))
        self.assertEqual({p.version for p in listed}, versions)
        self.assertTrue(all(p.name == n for p in listed))
        mine = [p for p in self.client.list_properties_of_secrets() if p.name == n]
        self.assertEqual(len(mine), 1)
        self.assertFalse(hasattr(mine[0], "value"))

    def test_update_properties_changes_tags_content_type_and_enabled(self):
        n = name()
        s = self.client.set_secret(n, "v")
        updated = self.client.update_secret_properties(n, s.properties.version, tags={"rotated": "yes"}, content_type="application/x-pem-file")
        self.assertEqual((updated.tags, updated.content_type, updated.enabled), ({"rotated": "yes"}, "application/x-pem-file", True))
        latest = self.client.update_secret_properties(n, enabled=False)
        self.assertFalse(latest.enabled)
        with self.assertRaises(HttpResponseError) as caught:
            self.client.get_secret(n)
        self.assertEqual(caught.exception.status_code, 403, "a disabled secret's value cannot be read")
        self.client.update_secret_properties(n, enabled=True)
        self.assertEqual(self.client.get_secret(n).value, "v")

    def test_a_missing_secret_or_version_is_not_found(self):
        with self.assertRaises(ResourceNotFoundError) as caught:
            self.client.get_secret(name())
        self.assertEqual(caught.exception.error.code, "SecretNotFound")
        n = name()
        self.client.set_secret(n, "v")
        with self.assertRaises(ResourceNotFoundError):
            self.client.get_secret(n, "0" * 32)

    def test_an_invalid_name_is_a_bad_parameter(self):
        with self.assertRaises(HttpResponseError) as caught:
            self.client.set_secret("not_a_valid_name", "v")
        self.assertEqual(caught.exception.status_code, 400)

    def test_tokens_that_are_not_for_key_vault_or_expired_are_refused(self):
        for credential in (DevelopmentCredential(lifetime=-60), DevelopmentCredential(audience="https://storage.azure.com")):
            with client(credential) as c:
                with self.assertRaises(ClientAuthenticationError) as caught:
                    c.get_secret("anything")
                self.assertEqual(caught.exception.status_code, 401)


if __name__ == "__main__":
    unittest.main()
