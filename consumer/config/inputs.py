"""The inputs' settings: the top-level ``schema_registry:`` section, and the names of the
per-subscription input fields (``format``, ``key_format``, ``envelope``, ``snapshot``), which
:class:`~consumer.config.pipeline.Subscription` carries; consumer.decoding uses them.

Frozen pydantic models like every section of the subscription file; the file loader expands
``${VAR}`` before these see the values, so secrets (``basic.auth.user.info``,
``bearer.auth.token``, ``bearer.auth.client.secret``, ``ssl.key.password``) live in the
environment and are SecretStr here: never printed, never logged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, SecretStr, field_validator, model_validator

from consumer.config._section import _Section

__all__ = ["ENVELOPES", "FORMATS", "REGISTRY_FORMATS", "Envelope", "Format", "KeyFormat",
           "SchemaRegistrySettings"]

Format = Literal["json", "avro", "protobuf", "json_schema"]
KeyFormat = Literal["raw", "json", "avro", "protobuf", "json_schema"]
Envelope = Literal["none", "debezium", "outbox", "cloudevents"]
FORMATS: tuple[str, ...] = ("json", "avro", "protobuf", "json_schema")
ENVELOPES: tuple[str, ...] = ("none", "debezium", "outbox", "cloudevents")
REGISTRY_FORMATS = frozenset({"avro", "protobuf", "json_schema"})


class SchemaRegistrySettings(_Section):
    """``schema_registry:``. The dotted keys are confluent_kafka's SchemaRegistryClient's own and
    pass through to it (:meth:`client_config`); the snake_case ones are this consumer's."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    # One URL or several, comma-separated; for Apicurio Registry the ccompat API,
    # http://host:8080/apis/ccompat/v7.
    url: str = Field(min_length=1)
    # "user:password" (Confluent Cloud: API key and secret). Or the user info in the url.
    basic_auth_user_info: SecretStr | None = Field(None, alias="basic.auth.user.info")
    # Bearer auth: STATIC_TOKEN (bearer.auth.token) or OAUTHBEARER (client credentials).
    bearer_auth_credentials_source: Literal["STATIC_TOKEN", "OAUTHBEARER"] | None = Field(
        None, alias="bearer.auth.credentials.source")
    bearer_auth_token: SecretStr | None = Field(None, alias="bearer.auth.token")
    bearer_auth_logical_cluster: str | None = Field(None, alias="bearer.auth.logical.cluster")
    bearer_auth_identity_pool_id: str | None = Field(None, alias="bearer.auth.identity.pool.id")
    bearer_auth_client_id: str | None = Field(None, alias="bearer.auth.client.id")
    bearer_auth_client_secret: SecretStr | None = Field(None, alias="bearer.auth.client.secret")
    bearer_auth_scope: str | None = Field(None, alias="bearer.auth.scope")
    bearer_auth_issuer_endpoint_url: str | None = Field(
        None, alias="bearer.auth.issuer.endpoint.url")
    # TLS: a CA bundle to trust, and a client certificate for mutual TLS.
    ssl_ca_location: str | None = Field(None, alias="ssl.ca.location")
    ssl_certificate_location: str | None = Field(None, alias="ssl.certificate.location")
    ssl_key_location: str | None = Field(None, alias="ssl.key.location")
    ssl_key_password: SecretStr | None = Field(None, alias="ssl.key.password")
    proxy: str | None = None  # http://proxy:3128
    # Seconds per request. A schema is fetched once per id and cached, so this bounds how long
    # the poll thread waits on a registry that does not answer before the partition is paused.
    timeout: float = Field(5.0, gt=0, le=60)
    # The client's own retries sleep on the poll thread: 0, the partition waits and tries again.
    max_retries: int = Field(0, ge=0, le=5, alias="max.retries")
    cache_capacity: int = Field(1000, ge=1, alias="cache.capacity")
    # Ours: an answer larger than this is refused (a schema is a few KB; 4 MiB is generous).
    max_answer_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    # Ours: a schema id the registry said it does not know is not asked about again for this
    # long (a burst of bad messages costs one request, not one each).
    unknown_id_ttl_s: float = Field(30.0, ge=0)

    @field_validator("url")
    @classmethod
    def _http_urls(cls, url: str) -> str:
        for part in url.split(","):
            if not part.strip().startswith(("http://", "https://")):
                raise ValueError(f"schema_registry.url: {part.strip()!r} must start with http:// "
                                 "or https:// (several URLs: comma-separated)")
        return url

    @model_validator(mode="after")
    def _auth_fits(self) -> SchemaRegistrySettings:
        source = self.bearer_auth_credentials_source
        if source is not None and self.basic_auth_user_info is not None:
            raise ValueError("schema_registry: basic.auth.user.info and bearer.auth.* exclude "
                             "each other")
        if source == "STATIC_TOKEN" and self.bearer_auth_token is None:
            raise ValueError("schema_registry: bearer.auth.credentials.source STATIC_TOKEN needs "
                             "bearer.auth.token (e.g. ${SCHEMA_REGISTRY_TOKEN})")
        if source == "OAUTHBEARER" and not (self.bearer_auth_client_id and
                                            self.bearer_auth_client_secret and
                                            self.bearer_auth_issuer_endpoint_url):
            raise ValueError("schema_registry: OAUTHBEARER needs bearer.auth.client.id, "
                             "bearer.auth.client.secret and bearer.auth.issuer.endpoint.url")
        if self.basic_auth_user_info is not None and \
                ":" not in self.basic_auth_user_info.get_secret_value():
            raise ValueError("schema_registry: basic.auth.user.info must be user:password")
        if self.ssl_key_location and not self.ssl_certificate_location:
            raise ValueError("schema_registry: ssl.key.location needs ssl.certificate.location")
        return self

    def client_config(self) -> dict[str, Any]:
        """What ``SchemaRegistryClient(conf)`` takes: the dotted keys, secrets revealed.
        Never log this dict; log ``str(self)`` (secrets show as '**********')."""
        conf: dict[str, Any] = {"url": self.url, "timeout": self.timeout,
                                "max.retries": self.max_retries,
                                "cache.capacity": self.cache_capacity}
        for name, field in type(self).model_fields.items():
            if field.alias is None or field.alias in conf or "." not in field.alias:
                continue
            value = getattr(self, name)
            if value is not None:
                conf[field.alias] = (value.get_secret_value() if isinstance(value, SecretStr)
                                     else value)
        if self.proxy is not None:
            conf["proxy"] = self.proxy
        return conf

    def secrets(self) -> list[str]:
        """Every secret value, for the log filter (consumer.logs.register_secret)."""
        values = [self.basic_auth_user_info, self.bearer_auth_token,
                  self.bearer_auth_client_secret, self.ssl_key_password]
        found = [v.get_secret_value() for v in values if v is not None]
        if self.basic_auth_user_info is not None:
            found.append(self.basic_auth_user_info.get_secret_value().split(":", 1)[1])
        return [s for s in found if s]
