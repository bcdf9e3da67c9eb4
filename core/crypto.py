"""Encryption of credentials at rest (mentors' Cal.com API keys), with Fernet."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken

from core.errors import ConfigurationError


class SecretBox:
    """Encrypts and decrypts short secrets with the configured Fernet key."""

    def __init__(self, key: str) -> None:
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "THOTIS_ENCRYPTION_KEY must be a Fernet key: 32 url-safe base64-encoded bytes"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Raises:
        ConfigurationError: the key changed since the value was stored.
        """
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError("stored secret cannot be decrypted with the current key") from exc
