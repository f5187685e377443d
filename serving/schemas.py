"""The API's request and response models, the OpenAPI error answers, and the types of query parameters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from football_platform.settings import DEFAULT_LEAGUES
from serving.predict import DATE_MAX, DATE_MIN, DATE_PATTERN, iso_date

League = Literal[DEFAULT_LEAGUES]  # the divisions the platform knows (a known one may still lack online features)


def _date(value: Any) -> Any:
    if isinstance(value, dt.date):  # built in Python, not parsed from a request
        return value
    day = iso_date(value)
    if day is None:
        raise ValueError(f"a YYYY-MM-DD date from {DATE_MIN} to {DATE_MAX}")
    return day


# Dates from requests: YYYY-MM-DD only (no numbers, no timestamps), bounded to a sane range.
Day = Annotated[dt.date, BeforeValidator(_date),
                WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]


NOT_BLANK = r"[^\s\x1c-\x1f]"


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"home_team": "Arsenal", "away_team": "Chelsea", "league": "E0", "kickoff": "2024-08-17"}]
    })
    # Not blank: at least one character that str.strip() keeps (\s plus the separators \x1c-\x1f).
    home_team: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK,
                           description="the site's short name, e.g. 'Man United'")
    away_team: str = Field(min_length=1, max_length=64, pattern=NOT_BLANK,
                           description="another team than home_team (compared without surrounding spaces)")
    league: League | None = Field(default=None, description="division code, e.g. E0")
    kickoff: Day | None = Field(default=None, description="default: the as_of date, else the day after "
                                "the later of the two teams' last matches")

    @field_validator("home_team", "away_team")
    @classmethod
    def _strip(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be blank")
        return value

    @model_validator(mode="after")
    def _two_teams(self) -> PredictRequest:
        if self.home_team == self.away_team:
            raise ValueError("home_team and away_team must differ")
        return self


class ModelRef(BaseModel):
    name: str
    version: str


class PredictResponse(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "home_team": "Arsenal", "away_team": "Chelsea", "league": "E0", "season": "2425", "kickoff": "2024-08-17",
        "p_home": 0.55, "p_draw": 0.24, "p_away": 0.21, "p_over25": 0.56, "p_under25": 0.44,
        "model": {"name": "football-match-outcome", "version": "3"},
        "features_timestamp": "2024-05-20T00:00:00+00:00"}]})
    home_team: str
    away_team: str
    league: str
    season: str
    kickoff: dt.date
    p_home: float
    p_draw: float
    p_away: float
    p_over25: float | None
    p_under25: float | None
    model: ModelRef
    features_timestamp: str | None


class Prediction(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{
        "match_id": "E0-2526-arsenal-man-united", "div": "E0", "season": "2526", "match_date": "2026-01-31",
        "home_team": "Arsenal", "away_team": "Man United", "p_home": 0.58, "p_draw": 0.23, "p_away": 0.19,
        "p_over25": 0.55, "model_name": "football-match-outcome", "model_version": "3",
        "features_timestamp": "2026-01-30T06:00:00+00:00", "generated_at": "2026-01-30T06:05:00+00:00"}]})
    match_id: str
    div: str
    season: str
    match_date: str
    home_team: str
    away_team: str
    p_home: float
    p_draw: float
    p_away: float
    p_over25: float | None = None
    model_name: str | None = None
    model_version: str | None = None


class PredictionPage(BaseModel):
    items: list[Prediction]
    total: int
    limit: int
    offset: int
    generated_at: str | None
    source: str


class Team(BaseModel):
    team: str
    league: str


class TeamList(BaseModel):
    teams: list[Team]
    count: int


class ErrorBody(BaseModel):
    detail: Any


# Answers of serving.guard.Guard, before any route: every route may give the first three, keyed routes the others.
ANY_ROUTE = {400: {"model": ErrorBody, "description": "malformed request (Content-Length, or a body not UTF-8)"},
             413: {"model": ErrorBody, "description": "request body too large"},
             431: {"model": ErrorBody, "description": "request headers (or X-API-Key) too large"}}
ERRORS = {401: {"model": ErrorBody, "description": "missing or unknown X-API-Key"},
          403: {"model": ErrorBody, "description": "the key lacks the scope this route needs"},
          429: {"model": ErrorBody, "description": "rate limit exceeded (per key, or per address without a valid "
                                                   "key); see Retry-After"}}
UNAVAILABLE = {503: {"model": ErrorBody, "description": "a store or the model this answer needs is unavailable"}}
