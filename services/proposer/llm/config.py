"""Settings of the LLM proposer: the endpoint, the key, the patience of the client, the budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from shared.settings import ServiceSettings

Provider = Literal["openai", "anthropic"]
DEFAULT_BASE_URLS: dict[str, str] = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}


class LLMSettings(ServiceSettings):
    """Where the language model lives and how far the proposer may go with it (env AUTORESEARCH_LLM_*)."""

    llm_provider: Provider = Field(default="openai", description="openai (any Chat Completions server) or anthropic.")
    llm_base_url: str | None = Field(default=None, description="Endpoint root; default the provider's public API.")
    llm_model: str | None = Field(default=None, description="Model name; setting it makes the LLM proposer the default.")
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("ANTHROPIC_API_KEY"))
    llm_max_output_tokens: int = Field(default=8192, ge=64, description="Cap on the tokens of one answer.")
    llm_temperature: float | None = Field(default=None, ge=0, le=2, description="Sent only when set.")
    llm_connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to open a connection.")
    llm_read_timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for the answer.")
    llm_max_attempts: int = Field(default=6, ge=1, le=50, description="Tries of one request before the ticket waits.")
    llm_backoff_s: float = Field(default=2.0, ge=0, description="First retry delay; doubles on each retry.")
    llm_backoff_max_s: float = Field(default=60.0, ge=0, description="Longest delay between two tries.")
    llm_retry_after_max_s: float = Field(default=300.0, ge=0, description="Longest Retry-After honoured in place.")
    llm_answer_retries: int = Field(default=2, ge=0, le=10, description="Times an unusable answer is sent back.")
    llm_context_tokens: int = Field(default=32000, ge=1000, description="Approximate budget of one prompt.")
    llm_max_file_chars: int = Field(default=120_000, ge=1000, description="Largest whole train.py accepted.")
    llm_plateau_after: int = Field(default=5, ge=1, description="Experiments without improvement that make a plateau.")
    llm_prompt_file: Path | None = Field(default=None, description="A file whose text replaces the built-in persona.")
    llm_token_cap: int | None = Field(default=None, ge=1, description="Tokens per campaign, all proposers together.")
    llm_cost_cap: float | None = Field(default=None, gt=0, description="Money per campaign, in the prices' currency.")
    llm_price_input: float | None = Field(default=None, ge=0, description="Price per million input tokens.")
    llm_price_output: float | None = Field(default=None, ge=0, description="Price per million output tokens.")

    @field_validator("openai_api_key", "anthropic_api_key", "llm_base_url", "llm_model", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _coherent(self) -> LLMSettings:
        if self.llm_cost_cap is not None and (self.llm_price_input is None or self.llm_price_output is None):
            raise ValueError("AUTORESEARCH_LLM_COST_CAP needs AUTORESEARCH_LLM_PRICE_INPUT and AUTORESEARCH_LLM_PRICE_OUTPUT")
        if self.llm_prompt_file is not None and not self.llm_prompt_file.is_file():
            raise ValueError(f"AUTORESEARCH_LLM_PROMPT_FILE {self.llm_prompt_file} is not a readable file")
        return self

    @property
    def llm_configured(self) -> bool:
        """True when a model was named, which is what turns the LLM proposer on by default."""
        return bool(self.llm_model)

    @property
    def llm_endpoint(self) -> str:
        """The base URL in use, without a trailing slash."""
        return (self.llm_base_url or DEFAULT_BASE_URLS[self.llm_provider]).rstrip("/")

    @property
    def llm_api_key(self) -> SecretStr | None:
        """The key of the configured provider."""
        return self.anthropic_api_key if self.llm_provider == "anthropic" else self.openai_api_key

    def check_llm(self) -> None:
        """Fail fast, naming the variable, when the LLM proposer cannot work as configured."""
        if not self.llm_model:
            raise ValueError("the llm proposer needs a model: set AUTORESEARCH_LLM_MODEL")
        if self.llm_api_key is None and self.llm_base_url is None:
            variable = "ANTHROPIC_API_KEY" if self.llm_provider == "anthropic" else "OPENAI_API_KEY"
            raise ValueError(f"the {self.llm_provider} API needs a key: set {variable} (or point AUTORESEARCH_LLM_BASE_URL at a server that needs none)")
