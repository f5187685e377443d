"""Tests of the pure football-data CSV parser.

Expected values come from the manifest (written independently of this code), from reading the raw
files by eye (quoted line numbers and values), or are worked out by hand in the test itself.
"""

from __future__ import annotations

import csv
import datetime as dt
import pickle
from functools import cache

import pandas as pd
import pytest

from football_platform.lib import raw_schema
from football_platform.lib.parsing import (
    BOOKMAKERS,
    MATCH_SOURCE_COLUMNS,
    OVERROUND_FLAG,
    REASON_AH_LINE,
    REASON_AH_NO_LINE,
    REASON_FTR,
    REASON_ODDS,
    ParsedResults,
    SourceFileRejected,
    discover_odds_columns,
    parse_fixtures_file,
    parse_results_file,
)
from football_platform.settings import PROJECT_ROOT

DATA_DIR = PROJECT_ROOT.parent / "shared" / "data"
FOOTBALL_DATA = DATA_DIR / "football-data"


def _manifest() -> list[dict[str, str]]:
    path = DATA_DIR / "MANIFEST.csv"
    if not path.exists():  # loud: the suite must not silently run without the real data
        raise FileNotFoundError(f"real data expected at {DATA_DIR} (../shared/data beside the repository)")
    with path.open(newline="") as handle:
        return [
            row
            for row in csv.DictReader(handle)
            if row["file"].startswith("football-data/") and "/fixtures/" not in row["file"]
        ]


MANIFEST = _manifest()


@cache
def real(name: str) -> ParsedResults:
    """Parse ``'2324/E0.csv'`` from the real data (cached: several tests look at the same files)."""
    season, file_name = name.split("/")
    return parse_results_file((FOOTBALL_DATA / name).read_bytes(), name, season, file_name.removesuffix(".csv"))


def price(odds: pd.DataFrame, match: tuple[str, str], book: str, market: str, period: str, selection: str) -> pd.Series:
    home, away = match
    sel = odds[
        (odds.home_team == home)
        & (odds.away_team == away)
        & (odds.bookmaker == book)
        & (odds.market == market)
        & (odds.period == period)
        & (odds.selection == selection)
    ]
    assert len(sel) == 1, f"expected one {book} {market} {period} {selection} price for {match}, got {len(sel)}"
    return sel.iloc[0]


# --------------------------------------------------------------------------------------------------
# Every real season file
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", MANIFEST, ids=[row["file"].removeprefix("football-data/") for row in MANIFEST])
def test_real_file_matches_manifest(entry: dict[str, str]) -> None:
    parsed = real(entry["file"].removeprefix("football-data/"))
    matches, odds = parsed.matches, parsed.odds
    rows = int(entry["rows"])

    assert list(matches.columns) == [*raw_schema.MATCH_COLUMNS, "source_line"]
    assert list(odds.columns) == list(raw_schema.ODDS_COLUMNS)
    assert len(matches) == rows
    assert parsed.n_source_rows == rows
    assert parsed.n_rejected_rows == 0
    # Only single prices/lines may be refused in real files (see test_real_bad_prices for each of them).
    assert set(parsed.rejected["reason"]) <= {REASON_ODDS, REASON_AH_LINE, REASON_AH_NO_LINE}

    assert set(matches["div"]) == {entry["div"]}
    assert set(matches["season"]) == {entry["season"]}
    assert str(matches["match_date"].min()) == entry["date_min"]
    assert str(matches["match_date"].max()) == entry["date_max"]
    assert matches["kickoff_time"].notna().any() == (entry["has_time"] == "1")
    assert not matches.duplicated(list(raw_schema.MATCH_KEY)).any()
    assert not odds.duplicated(list(raw_schema.ODDS_KEY)).any()
    assert matches[["match_date", "home_team", "away_team", "fthg", "ftag", "ftr"]].notna().all().all()
    assert (matches["home_team"] != matches["away_team"]).all()
    assert ((matches["fthg"] > matches["ftag"]) == (matches["ftr"] == "H")).all()
    assert (odds["price"] > 1).all()

    # Bookmakers present, per the manifest's own scan of the header (which omits Stanleybet SYH in
    # 2001/02 and Sporting Odds SOH in 2002-04, both present in those headers).
    one_x_two = odds[odds.market == "1x2"]
    pre = set(one_x_two[one_x_two.period == "pre"].bookmaker)
    close = set(one_x_two[one_x_two.period == "close"].bookmaker)
    expected_pre = {c.removesuffix("H") for c in f"{entry['open_1x2']}|{entry['market_1x2']}".split("|") if c}
    expected_close = {c.removesuffix("CH") for c in entry["close_1x2"].split("|") if c}
    assert expected_pre <= pre and pre - expected_pre <= {"SY", "SO"}
    assert close == expected_close
    for column, book, period in (
        ("PSH_missing", "PS", "pre"),
        ("PSCH_missing", "PS", "close"),
        ("AvgCH_missing", "Avg", "close"),
    ):
        if entry[column]:
            home_prices = one_x_two[
                (one_x_two.bookmaker == book) & (one_x_two.period == period) & (one_x_two.selection == "H")
            ]
            assert len(home_prices) == rows - int(entry[column]), column


def test_real_bad_prices_are_refused_one_by_one() -> None:
    """Every refused value in the real files, each read off the raw file by hand."""
    expected = {
        ("1213/E1.csv", 532, "B365H", "0", REASON_ODDS),  # Blackpool v Derby
        ("1819/E1.csv", 348, "B365H", "0", REASON_ODDS),  # Brentford v Blackburn
        ("1920/D1.csv", 261, "AvgC>2.5", "0.42", REASON_ODDS),
        ("2122/E0.csv", 168, "B365C>2.5", "0", REASON_ODDS),
        ("2122/E0.csv", 168, "B365C<2.5", "0", REASON_ODDS),
        ("0304/SP1.csv", 357, "GBAHH", "0.9", REASON_ODDS),
        ("0304/I1.csv", 254, "GBAHA", "-0.5", REASON_ODDS),
        ("0405/E1.csv", 191, "B365AHH", "1", REASON_ODDS),
        ("0607/E1.csv", 2, "BbAHh", "0", None),  # a zero handicap is a valid line: must NOT be refused
    }
    for name, line, column, value, reason in expected:
        rejected = real(name).rejected
        hit = rejected[(rejected.source_line == line) & (rejected.column_name == column)]
        if reason is None:
            assert hit.empty, (name, line, column)
        else:
            assert hit[["value", "reason"]].values.tolist() == [[value, reason]], (name, line, column)

    # The match itself stays, without that one price: Blackpool v Derby keeps B365 draw/away.
    e1 = real("1213/E1.csv")
    assert ((e1.matches.home_team == "Blackpool") & (e1.matches.away_team == "Derby")).sum() == 1
    blackpool = e1.odds[
        (e1.odds.home_team == "Blackpool") & (e1.odds.away_team == "Derby") & (e1.odds.bookmaker == "B365")
    ]
    one_x_two = blackpool[blackpool.market == "1x2"]
    assert set(one_x_two.selection) == {"D", "A"}
    assert one_x_two.set_index("selection").loc["D", "price"] == 3.4


def test_shifted_ladbrokes_handicap_columns_are_dropped() -> None:
    """0405/E1 lines 477-488: the LB Asian handicap block is shifted (line in LBAHH, prices in LBAHA/LBAH)."""
    parsed = real("0405/E1.csv")
    # Line 477, Burnley v West Ham: LBAHH=0, LBAHA=2, LBAH=1.84 (a price where the line belongs).
    on_477 = parsed.rejected[parsed.rejected.source_line == 477]
    assert ("LBAHH", "0", REASON_ODDS) in on_477[["column_name", "value", "reason"]].itertuples(index=False, name=None)
    assert ("LBAH", "1.84", REASON_AH_LINE) in on_477[["column_name", "value", "reason"]].itertuples(
        index=False, name=None
    )
    burnley = parsed.odds[(parsed.odds.home_team == "Burnley") & (parsed.odds.away_team == "West Ham")]
    assert "LB" not in set(burnley[burnley.market == "ah"].bookmaker)
    assert "LB" in set(burnley[burnley.market == "1x2"].bookmaker)  # its 1X2 prices are fine


# --------------------------------------------------------------------------------------------------
# Quirks of the real files
# --------------------------------------------------------------------------------------------------


def test_bom_file_2122_e0() -> None:
    assert (FOOTBALL_DATA / "2122/E0.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    first = real("2122/E0.csv").matches.iloc[0]
    # Line 2 of the file: E0,13/08/2021,20:00,Brentford,Arsenal,2,0,H
    assert (first["div"], first["match_date"], first["kickoff_time"]) == ("E0", dt.date(2021, 8, 13), "20:00")
    assert (first["home_team"], first["away_team"], first["fthg"], first["ftag"], first["ftr"]) == (
        "Brentford",
        "Arsenal",
        2,
        0,
        "H",
    )


def test_latin1_bytes_0001_d1_are_decoded_and_stripped() -> None:
    # Line 2: referee bytes 'J\xf6rg Kessler ' (cp1252/latin-1, trailing space).
    matches = real("0001/D1.csv").matches
    first = matches[matches.source_line == 2].iloc[0]
    assert (first["home_team"], first["away_team"], first["referee"]) == ("Dortmund", "Hansa Rostock", "Jörg Kessler")
    assert first["attendance"] == 61000
    assert (matches["referee"] == "Jürgen Aust").sum() > 0


def test_no_break_space_0405_e0_is_stripped() -> None:
    # Line 337: Aston Villa v Bolton, referee '\xa0U Rennie'.
    matches = real("0405/E0.csv").matches
    assert matches[matches.source_line == 337].iloc[0]["referee"] == "U Rennie"


def test_ragged_rows_0304_e0() -> None:
    """Line 305 has 72 fields under a 57-name header; the 15 extras are empty and ignored."""
    assert len(next(csv.reader([(FOOTBALL_DATA / "0304/E0.csv").read_text().splitlines()[304]]))) == 72
    parsed = real("0304/E0.csv")
    row = parsed.matches[parsed.matches.source_line == 305].iloc[0]
    assert (row["home_team"], row["away_team"], row["fthg"], row["ftag"]) == ("Tottenham", "Chelsea", 0, 1)
    # Tail of line 305: GBAHH..B365AH = 2.05,1.7,0.25,1.8,2.05,0.5,1.85,2.05,0.5 (each book its own line).
    b365 = price(parsed.odds, ("Tottenham", "Chelsea"), "B365", "ah", "pre", "home")
    assert (b365["line"], b365["price"]) == (0.5, 1.85)
    gb = price(parsed.odds, ("Tottenham", "Chelsea"), "GB", "ah", "pre", "away")
    assert (gb["line"], gb["price"]) == (0.25, 1.7)
    # Line 3, Birmingham v Tottenham: LBAH=0 while GBAH=B365AH=-0.25.
    lb = price(parsed.odds, ("Birmingham", "Tottenham"), "LB", "ah", "pre", "home")
    assert (lb["line"], lb["price"]) == (0.0, 1.75)
    assert price(parsed.odds, ("Birmingham", "Tottenham"), "GB", "ah", "pre", "home")["line"] == -0.25


def test_four_digit_years_0203_e0_and_two_digit_centuries() -> None:
    e0 = real("0203/E0.csv").matches
    assert e0.iloc[0]["match_date"] == dt.date(2002, 8, 17)  # '17/08/2002'
    # 9900 straddles the century: '99' is 1999 and '00' is 2000.
    i1 = real("9900/I1.csv").matches
    assert i1["match_date"].min() == dt.date(1999, 8, 28)
    assert i1["match_date"].max() == dt.date(2000, 5, 14)


def test_1990s_file_with_empty_columns_and_comma_rows() -> None:
    parsed = real("9394/E0.csv")  # 28 header fields, 21 of them empty; 90 rows of commas at the end
    assert len(parsed.matches) == 462
    assert parsed.odds.empty
    assert parsed.matches["hthg"].isna().all()
    first = parsed.matches.iloc[0]  # E0,14/08/93,Arsenal,Coventry,0,3,A
    assert (first["match_date"], first["home_team"], first["away_team"], first["ftr"]) == (
        dt.date(1993, 8, 14),
        "Arsenal",
        "Coventry",
        "A",
    )


def test_f1_1920_has_279_matches() -> None:
    matches = real("1920/F1.csv").matches
    assert len(matches) == 279
    assert matches["match_date"].max() == dt.date(2020, 3, 8)


def test_rows_out_of_date_order_keep_their_own_date() -> None:
    # 0203/F1 line 218 (Auxerre v Marseille, 21/01/03) comes after a match of 22/01/03.
    matches = real("0203/F1.csv").matches.set_index("source_line")
    assert matches.loc[217, "match_date"] == dt.date(2003, 1, 22)
    assert matches.loc[218, ["home_team", "away_team"]].tolist() == ["Auxerre", "Marseille"]
    assert matches.loc[218, "match_date"] == dt.date(2003, 1, 21)


def test_first_row_of_2324_e0_by_hand() -> None:
    """Burnley v Man City, 11/08/2023 20:00, 0-3; prices read off line 2 of the file."""
    parsed = real("2324/E0.csv")
    match = parsed.matches.iloc[0]
    assert match[["home_team", "away_team", "fthg", "ftag", "ftr", "hthg", "htag", "htr"]].tolist() == [
        "Burnley",
        "Man City",
        0,
        3,
        "A",
        0,
        2,
        "A",
    ]
    assert (match["kickoff_time"], match["referee"], match["home_shots"], match["away_shots_on_target"]) == (
        "20:00",
        "C Pawson",
        6,
        8,
    )
    assert match["home_red"] == 1 and pd.isna(match["attendance"]) and pd.isna(match["home_offsides"])
    odds = parsed.odds

    def p(book: str, market: str, period: str, selection: str) -> tuple[float | None, float]:
        row = price(odds, ("Burnley", "Man City"), book, market, period, selection)
        return (None if pd.isna(row["line"]) else row["line"], row["price"])

    assert p("B365", "1x2", "pre", "H") == (None, 8.0)  # B365H
    assert p("B365", "1x2", "close", "H") == (None, 9.0)  # B365CH
    assert p("PS", "1x2", "pre", "H") == (None, 8.58)  # PSH
    assert p("PS", "1x2", "close", "H") == (None, 9.62)  # PSCH
    assert p("PS", "1x2", "close", "A") == (None, 1.33)  # PSCA
    assert p("VC", "1x2", "close", "H") == (None, 10.5)  # VCCH, not VC pre (9.5)
    assert p("Avg", "1x2", "pre", "D") == (None, 5.35)  # AvgD
    assert p("PS", "ou25", "pre", "over") == (2.5, 1.68)  # P>2.5: Pinnacle's 'P' becomes 'PS'
    assert p("PS", "ou25", "close", "under") == (2.5, 2.35)  # PC<2.5
    assert p("Avg", "ou25", "close", "over") == (2.5, 1.64)  # AvgC>2.5
    assert p("B365", "ah", "pre", "home") == (1.5, 1.86)  # AHh=1.5, B365AHH
    assert p("PS", "ah", "close", "away") == (1.5, 1.97)  # AHCh=1.5, PCAHA
    assert p("Avg", "ah", "close", "home") == (1.5, 1.92)  # AvgCAHH
    # MaxCAHH/MaxCAHA are empty on that line: no row rather than a NULL price.
    burnley = odds[(odds.home_team == "Burnley") & (odds.away_team == "Man City")]
    assert burnley[(burnley.bookmaker == "Max") & (burnley.market == "ah") & (burnley.period == "close")].empty
    # 8 books x 3 (1x2 pre) + 8 x 3 (1x2 close) + 4 x 2 x 2 (ou pre/close) + 4x2 (ah pre) + 3x2 (ah close)
    assert len(burnley) == 24 + 24 + 16 + 8 + 6
    # WH close 7.5/4.6/1.29: overround 1/7.5+1/4.6+1/1.29 = 1.126, inside [1, 1.15]: no flag.
    assert burnley["flag"].isna().all()


def test_betbrain_era_0506_e0_by_hand() -> None:
    # Line 2, Aston Villa v Bolton: Bb1X2=56 (count), BbMxH=2.4, BbAvH=2.2, BbAv>2.5=2.01, BbAH=22 (count),
    # BbAHh=-0.25, BbMxAHH=2.1, BbAvAHA=1.84.
    odds = real("0506/E0.csv").odds
    assert price(odds, ("Aston Villa", "Bolton"), "BbMx", "1x2", "pre", "H")["price"] == 2.4
    assert price(odds, ("Aston Villa", "Bolton"), "BbAv", "1x2", "pre", "H")["price"] == 2.2
    assert price(odds, ("Aston Villa", "Bolton"), "BbAv", "ou25", "pre", "over")["price"] == 2.01
    row = price(odds, ("Aston Villa", "Bolton"), "BbMx", "ah", "pre", "home")
    assert (row["line"], row["price"]) == (-0.25, 2.1)
    row = price(odds, ("Aston Villa", "Bolton"), "BbAv", "ah", "pre", "away")
    assert (row["line"], row["price"]) == (-0.25, 1.84)
    assert not {56.0, 36.0, 22.0} & set(
        odds[(odds.home_team == "Aston Villa") & (odds.away_team == "Bolton")]["price"]
    )  # counts are no prices


# --------------------------------------------------------------------------------------------------
# Column discovery
# --------------------------------------------------------------------------------------------------


def test_discover_odds_columns_reads_names_generically() -> None:
    names = (
        "Div", "HS", "AS", "HC", "AC", "HR", "AR", "HomeTeam", "AwayTeam",
        "PSH", "PSCH", "PSCD", "VCH", "VCCH", "B365AH", "B365AHH", "BbAH", "BbAHh", "Bb1X2", "AHh", "AHCh",
        "PCAHA", "1XBH", "1XBD", "1XBA", "1XBCH", "1XBCD", "1XBCA", "BFECH", "BFEC>2.5", "ZZH", "ZZD", "ZZA",
        "ZZCH", "ZZCD", "ZZCA",
    )  # fmt: skip
    found = {
        c.column: (c.bookmaker, c.market, c.period, c.selection, c.line_column) for c in discover_odds_columns(names)
    }
    assert found == {
        "PSH": ("PS", "1x2", "pre", "H", None),
        "PSCH": ("PS", "1x2", "close", "H", None),
        "PSCD": ("PS", "1x2", "close", "D", None),
        "VCH": ("VC", "1x2", "pre", "H", None),
        "VCCH": ("VC", "1x2", "close", "H", None),
        "B365AHH": ("B365", "ah", "pre", "home", "B365AH"),  # the book's own line beats the market's
        "PCAHA": ("PS", "ah", "close", "away", "AHCh"),
        "1XBH": ("1XB", "1x2", "pre", "H", None),
        "1XBD": ("1XB", "1x2", "pre", "D", None),
        "1XBA": ("1XB", "1x2", "pre", "A", None),
        "1XBCH": ("1XB", "1x2", "close", "H", None),
        "1XBCD": ("1XB", "1x2", "close", "D", None),
        "1XBCA": ("1XB", "1x2", "close", "A", None),
        "BFECH": ("BFE", "1x2", "close", "H", None),
        "BFEC>2.5": ("BFE", "ou25", "close", "over", None),
        # A book this code does not know, recognised because the full H/D/A set is there.
        "ZZH": ("ZZ", "1x2", "pre", "H", None),
        "ZZD": ("ZZ", "1x2", "pre", "D", None),
        "ZZA": ("ZZ", "1x2", "pre", "A", None),
        "ZZCH": ("ZZ", "1x2", "close", "H", None),
        "ZZCD": ("ZZ", "1x2", "close", "D", None),
        "ZZCA": ("ZZ", "1x2", "close", "A", None),
    }


def test_match_column_map_covers_the_warehouse_schema() -> None:
    assert set(MATCH_SOURCE_COLUMNS) == set(raw_schema.MATCH_COLUMNS) - {"season"}
    assert "PS" in BOOKMAKERS and "P" not in BOOKMAKERS  # 'P' is an alias, never a code of its own


# --------------------------------------------------------------------------------------------------
# Hand-made files
# --------------------------------------------------------------------------------------------------

HEADER = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HS,AS,"
    "B365H,B365D,B365A,MaxH,MaxD,MaxA,B365>2.5,B365<2.5,AHh,B365AHH,B365AHA"
)
ROW_1 = "E0,12/08/2023,15:00,Arsenal,Chelsea,2,1,H,1,0,H,M Dean,10,8,2.0,3.5,4.0,2.1,3.6,4.2,1.9,1.95,-0.5,1.9,2.0"
ROW_2 = "E0,19/08/2023,17:30,Everton,Fulham,0,0,D,0,0,D,A Taylor,5,7,2.5,3.2,3.0,2.6,3.3,3.1,2.1,1.75,0,1.95,1.95"
ROW_3 = "E0,26/08/2023,20:00,Fulham,Arsenal,1,3,A,1,1,D,S Hooper,9,14,4.5,3.8,1.8,4.8,4.0,1.85,1.8,2.0,0.75,1.9,2.0"
NAME = "2324/E0.csv"


def make(*rows: str, header: str = HEADER, eol: str = "\r\n") -> bytes:
    return eol.join([header, *rows]).encode() + eol.encode()


def parse(content: bytes, season: str = "2324", div: str | None = "E0") -> ParsedResults:
    return parse_results_file(content, NAME, season, div)


def reasons(parsed) -> list[tuple[int, str | None, str | None, str]]:
    return list(parsed.rejected[["source_line", "column_name", "value", "reason"]].itertuples(index=False, name=None))


def test_hand_made_file_parses_completely() -> None:
    parsed = parse(make(ROW_1, ROW_2, ROW_3, eol="\n"))
    assert parsed.matches["source_line"].tolist() == [2, 3, 4]
    assert parsed.matches["match_date"].tolist() == [dt.date(2023, 8, 12), dt.date(2023, 8, 19), dt.date(2023, 8, 26)]
    assert parsed.rejected.empty and parsed.n_source_rows == 3
    # 3 matches x (B365 + Max 1x2: 6, ou: 2, ah: 2)
    assert len(parsed.odds) == 30
    assert price(parsed.odds, ("Fulham", "Arsenal"), "B365", "ah", "pre", "away")[["line", "price"]].tolist() == [
        0.75,
        2.0,
    ]


def test_overround_flag_worked_by_hand() -> None:
    # B365 1.5/3.0/4.0: 0.667 + 0.333 + 0.25 = 1.25 > 1.15 -> flagged (all three prices).
    # Max 2.2/3.6/4.0: 0.4545 + 0.2778 + 0.25 = 0.982: below 1, normal for a market maximum -> kept clean.
    # B365 2.2/3.6/4.0 on the next row: 0.982 < 1.0 -> flagged for a single bookmaker.
    row_a = ROW_1.replace("2.0,3.5,4.0,2.1,3.6,4.2", "1.5,3.0,4.0,2.2,3.6,4.0")
    row_b = ROW_2.replace("2.5,3.2,3.0,2.6,3.3,3.1", "2.2,3.6,4.0,2.6,3.3,3.1")
    odds = parse(make(row_a, row_b, ROW_3)).odds
    flagged = odds[odds.flag == OVERROUND_FLAG]
    assert sorted(zip(flagged.home_team, flagged.bookmaker, flagged.selection, strict=True)) == sorted(
        [("Arsenal", "B365", s) for s in "HDA"] + [("Everton", "B365", s) for s in "HDA"]
    )
    assert len(odds[odds.flag == OVERROUND_FLAG]) == 6
    # ou/ah prices never get the 1X2 flag, flagged rows are kept with their price
    assert price(odds, ("Arsenal", "Chelsea"), "B365", "1x2", "pre", "H")["price"] == 1.5


def test_bad_odds_values_drop_only_that_price() -> None:
    row = ROW_1.replace("2.0,3.5,4.0", "1.0,abc,4.0").replace("1.9,1.95,-0.5", "0.95,1.95,-0.5")
    parsed = parse(make(row, ROW_2))
    assert len(parsed.matches) == 2 and parsed.n_rejected_rows == 0
    assert reasons(parsed) == [
        (2, "B365H", "1.0", REASON_ODDS),
        (2, "B365D", "abc", REASON_ODDS),
        (2, "B365>2.5", "0.95", REASON_ODDS),
    ]
    arsenal = parsed.odds[parsed.odds.home_team == "Arsenal"]
    b365 = arsenal[arsenal.bookmaker == "B365"]
    assert set(zip(b365.market, b365.selection, strict=True)) == {
        ("1x2", "A"),
        ("ou25", "under"),
        ("ah", "home"),
        ("ah", "away"),
    }
    assert arsenal["flag"].isna().all()  # an incomplete triple has no overround


def test_asian_handicap_line_problems() -> None:
    no_line = ROW_1.replace("-0.5,1.9,2.0", ",1.9,2.0")
    bad_line = ROW_2.replace("0,1.95,1.95", "1.84,1.95,1.95")
    parsed = parse(make(no_line, bad_line))
    assert reasons(parsed) == [
        (2, "B365AHH", "1.9", REASON_AH_NO_LINE),
        (2, "B365AHA", "2.0", REASON_AH_NO_LINE),
        (3, "AHh", "1.84", REASON_AH_LINE),
    ]
    assert parsed.odds[parsed.odds.market == "ah"].empty
    assert len(parsed.matches) == 2


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (ROW_1.replace(",2,1,H,", ",x,1,H,"), [(2, "FTHG", "x", "goals must be an integer")]),
        (ROW_1.replace(",2,1,H,", ",2,-1,H,"), [(2, "FTAG", "-1", "goals must be between 0 and 15")]),
        (ROW_1.replace(",2,1,H,", ",2,1.5,H,"), [(2, "FTAG", "1.5", "goals must be an integer")]),
        (ROW_1.replace(",2,1,H,", ",16,1,H,"), [(2, "FTHG", "16", "goals must be between 0 and 15")]),
        (ROW_1.replace(",2,1,H,", ",,1,H,"), [(2, "FTHG", None, "missing full-time goals")]),
        (ROW_1.replace(",2,1,H,", ",2,1,A,"), [(2, "FTR", "A", REASON_FTR)]),
        (ROW_1.replace(",2,1,H,", ",2,1,X,"), [(2, "FTR", "X", "ftr must be H, D or A")]),
        (ROW_1.replace("Arsenal,Chelsea", ",Chelsea"), [(2, "HomeTeam", None, "empty team name")]),
        (
            ROW_1.replace("Arsenal,Chelsea", "Arsenal,Arsenal"),
            [(2, "AwayTeam", "Arsenal", "home team equals away team")],
        ),
        (
            ROW_1.replace("12/08/2023", "31/02/2024"),
            [(2, "Date", "31/02/2024", "unparseable date (expected dd/mm/yy or dd/mm/yyyy)")],
        ),
        (
            ROW_1.replace("12/08/2023", "2023-08-12"),
            [(2, "Date", "2023-08-12", "unparseable date (expected dd/mm/yy or dd/mm/yyyy)")],
        ),
        (ROW_1.replace("12/08/2023", ""), [(2, "Date", None, "missing date")]),
        (
            ROW_1.replace("12/08/2023", "12/08/2022"),
            [(2, "Date", "12/08/2022", "date outside season 2324 (2023-07-01 to 2024-08-31)")],
        ),
        # a single month-first value among day-first dates is one bad row, not a month-first file
        (
            ROW_1.replace("12/08/2023", "08/13/2023"),
            [(2, "Date", "08/13/2023", "unparseable date (expected dd/mm/yy or dd/mm/yyyy)")],
        ),
        (
            ROW_1.replace(",2,1,H,", ",,,H,").replace("Arsenal,Chelsea", ",Chelsea"),
            [
                (2, "HomeTeam", None, "empty team name"),
                (2, "FTHG", None, "missing full-time goals"),
                (2, "FTAG", None, "missing full-time goals"),
            ],
        ),
        (",12/08/2023,15:00,Arsenal,Chelsea,2,1,H", [(2, "Div", None, "row without Div")]),
    ],
)
def test_bad_row_is_refused_with_reasons(row: str, expected: list) -> None:
    parsed = parse(make(row, ROW_2, ROW_3))
    assert reasons(parsed) == expected
    assert len(parsed.matches) == 2 and parsed.n_source_rows == 3 and parsed.n_rejected_rows == 1
    assert parsed.matches["source_line"].tolist() == [3, 4]
    assert set(parsed.odds["home_team"]) == {"Everton", "Fulham"}  # no odds for a refused row


def test_bad_optional_values_become_null() -> None:
    row = ROW_1.replace("15:00", "25:00").replace(",1,0,H,M Dean,10,8,", ",1,x,Q,M Dean,-3,8,")
    parsed = parse(make(row, ROW_2))
    assert reasons(parsed) == [
        (2, "HTAG", "x", "must be an integer between 0 and 15; value dropped"),
        (2, "HS", "-3", "must be a non-negative integer; value dropped"),
        (2, "Time", "25:00", "kick-off time must be HH:MM; value dropped"),
        (2, "HTR", "Q", "htr must be H, D or A; value dropped"),
    ]
    first = parsed.matches.iloc[0]
    assert first["hthg"] == 1 and pd.isna(first["htag"]) and pd.isna(first["home_shots"]) and first["away_shots"] == 8
    assert first["kickoff_time"] is None and first["htr"] is None
    assert parsed.n_rejected_rows == 0


def test_time_formats() -> None:
    rows = [ROW_1.replace("15:00", "9:30"), ROW_2.replace("17:30", ""), ROW_3.replace("20:00", "19:45:00")]
    assert parse(make(*rows)).matches["kickoff_time"].tolist() == ["09:30", None, "19:45"]


def test_truncated_last_line_is_a_refused_row() -> None:
    content = make(ROW_1, ROW_2).rstrip(b"\r\n") + b"\r\nE0,26/08/2023,20:00,Fulham,Arse"
    parsed = parse(content)
    assert len(parsed.matches) == 2 and parsed.n_rejected_rows == 1
    note = " (row has only 5 of 25 fields: truncated?)"
    assert reasons(parsed) == [
        (4, "FTHG", None, "missing full-time goals" + note),
        (4, "FTAG", None, "missing full-time goals" + note),
    ]


def test_exact_duplicate_line_is_kept_once() -> None:
    parsed = parse(make(ROW_1, ROW_2, ROW_1))
    assert parsed.matches["source_line"].tolist() == [2, 3]
    assert reasons(parsed) == [(4, None, None, "exact duplicate of line 2")]
    assert parsed.n_source_rows == 3 and parsed.n_rejected_rows == 1


def test_postponed_match_appended_out_of_order() -> None:
    late = ROW_3.replace("26/08/2023", "05/08/2023")  # played before the other two, listed last
    parsed = parse(make(ROW_1, ROW_2, late))
    assert parsed.matches["match_date"].tolist() == [dt.date(2023, 8, 12), dt.date(2023, 8, 19), dt.date(2023, 8, 5)]


def test_old_layouts_and_missing_ftr() -> None:
    # The site's "new leagues" names (Home/Away/HG/AG/Res) map to the same columns.
    alt = parse(make("E0,12/08/23,Arsenal,Chelsea,2,1,H", header="Div,Date,Home,Away,HG,AG,Res"))
    assert alt.matches.iloc[0][["match_date", "home_team", "fthg", "ftag", "ftr"]].tolist() == [
        dt.date(2023, 8, 12),
        "Arsenal",
        2,
        1,
        "H",
    ]
    # FTR absent from the header, or empty in a row: the goals define it.
    no_ftr = parse(make("E0,12/08/23,Arsenal,Chelsea,1,1", header="Div,Date,HomeTeam,AwayTeam,FTHG,FTAG"))
    assert no_ftr.matches.iloc[0]["ftr"] == "D"
    empty_ftr = parse(make(ROW_1.replace(",2,1,H,", ",0,2,,")))
    assert empty_ftr.matches.iloc[0]["ftr"] == "A" and empty_ftr.rejected.empty
    assert empty_ftr.matches.iloc[0]["attendance"] is pd.NA  # no Attendance column: NULL


def test_utf16_with_bom_is_decoded() -> None:
    text = make(ROW_1, ROW_2).decode()
    parsed = parse(text.encode("utf-16"))  # Python writes the BOM for 'utf-16'
    assert parsed.matches["home_team"].tolist() == ["Arsenal", "Everton"]


def test_cp1252_team_names_are_decoded() -> None:
    content = make(ROW_1).replace(b"Arsenal", b"King\x92s Lynn")  # cp1252 right single quote
    assert parse(content).matches.iloc[0]["home_team"] == "King\u2019s Lynn"
    # 0x81 is undefined in cp1252: latin-1 takes over rather than failing.
    assert parse(make(ROW_1).replace(b"Arsenal", b"Ars\x81nal")).matches.iloc[0]["home_team"] == "Ars\x81nal"
    # Valid UTF-8 stays UTF-8.
    assert parse(make(ROW_1).replace(b"Arsenal", "Münster".encode())).matches.iloc[0]["home_team"] == "Münster"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \r\n\r\n", "empty file"),
        (b"\xef\xbb\xbf", "empty file"),
        (
            b"<!DOCTYPE html>\n<html><body>404 Not Found</body></html>",
            "HTML page instead of CSV (an error or login page?)",
        ),
        (b"\n  <html><head><title>Error</title>", "HTML page instead of CSV (an error or login page?)"),
        (b"Div,Date\x00\x01\x02\x00", "binary content (NUL byte at offset 8), not a CSV text file"),
        (make(ROW_1).decode().encode("utf-16-le"), "binary content (NUL byte at offset 1), not a CSV text file"),
        (b"PK\x03\x04\x14\x00\x06\x00", "binary content (a zip archive or .xlsx workbook), not a CSV text file"),
        (b"\x1f\x8b\x08\x00", "binary content (gzip-compressed data), not a CSV text file"),
        (
            make("E0,12/08/2023,Arsenal,Chelsea,H", header="Div,Date,HomeTeam,AwayTeam,FTR"),
            "not a football-data results file: missing column(s) FTHG, FTAG (header: Div,Date,HomeTeam,AwayTeam,FTR)",
        ),
        (
            b"Div;Date;HomeTeam;AwayTeam;FTHG;FTAG\nE0;12/08/2023;Arsenal;Chelsea;1;0\n",
            "not a football-data CSV: header is separated by ';', not commas",
        ),
        (
            make(ROW_1.replace("12/08/2023", "08/12/2023"), ROW_2.replace("19/08/2023", "08/19/2023")),
            "dates are month-first (e.g. '08/19/2023' on line 3); expected day-first dd/mm/yy",
        ),
        # No day above 12 at all, but read day-first the dates fall before the season (12 Jan, 11 Apr 2023).
        (
            make(ROW_1.replace("12/08/2023", "12/01/2023"), ROW_2.replace("19/08/2023", "11/04/2023")),
            "dates are month-first (e.g. '12/01/2023' on line 2); expected day-first dd/mm/yy",
        ),
        (
            make(ROW_1, ROW_2, ROW_1.replace(",2,1,H,", ",3,1,H,")),
            "conflicting duplicate rows for Arsenal v Chelsea (E0) (lines 2 and 4): the same match twice with different content",
        ),
        (make(ROW_1.replace("E0,", "E1,", 1)), "Div column holds E1, expected only E0"),
    ],
)
def test_whole_file_rejections(content: bytes, reason: str) -> None:
    with pytest.raises(SourceFileRejected) as caught:
        parse(content)
    exc = caught.value
    assert (exc.source_file, exc.reason) == (NAME, reason)
    assert str(exc) == f"{NAME}: {reason}" and "\n" not in str(exc)
    assert isinstance(exc, ValueError)
    clone = pickle.loads(pickle.dumps(exc))  # crosses process boundaries intact
    assert (clone.source_file, clone.reason, str(clone)) == (exc.source_file, exc.reason, str(exc))


def test_mixed_divisions_without_expected_div() -> None:
    with pytest.raises(SourceFileRejected, match=r"^2324/E0\.csv: mixed divisions in one results file: E0, E1$"):
        parse(make(ROW_1, ROW_2.replace("E0,", "E1,", 1)), div=None)


def test_bad_season_code_names_the_file() -> None:
    with pytest.raises(SourceFileRejected, match=r"^2324/E0\.csv: bad season code"):
        parse(make(ROW_1), season="2325")


def test_header_only_file_has_no_rows() -> None:
    parsed = parse(make())
    assert parsed.matches.empty and parsed.odds.empty and parsed.n_source_rows == 0
    assert list(parsed.matches.columns) == [*raw_schema.MATCH_COLUMNS, "source_line"]
    assert list(parsed.odds.columns) == list(raw_schema.ODDS_COLUMNS)
    assert list(parsed.rejected.columns) == ["source_line", "column_name", "value", "reason"]


# --------------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------------


def _fixtures(snapshot: str, divisions=None):
    name = f"fixtures/{snapshot}/fixtures.csv"
    return parse_fixtures_file((FOOTBALL_DATA / name).read_bytes(), name, divisions)


def test_fixtures_2022_older_layout_cp1252() -> None:
    everything = _fixtures("2022-05-06")
    assert len(everything.fixtures) == 165 and everything.rejected.empty
    assert list(everything.fixtures.columns) == [*raw_schema.FIXTURE_COLUMNS, "source_line"]
    assert list(everything.odds.columns) == list(raw_schema.FIXTURE_ODDS_COLUMNS)
    # Division counts by `cut -d, -f1 | sort | uniq -c` on the file.
    assert everything.fixtures["div"].value_counts().to_dict() == {
        "E1": 12, "E3": 12, "EC": 11, "SP2": 11, "E0": 10, "F1": 10, "F2": 10, "I1": 10, "I2": 10,
        "SP1": 10, "T1": 10, "D1": 9, "D2": 9, "N1": 9, "P1": 9, "G1": 7, "SC0": 6,
    }  # fmt: skip
    ec = _fixtures("2022-05-06", ["EC"]).fixtures  # line 60: Wealdstone v King\x92s Lynn (cp1252)
    assert ec[ec.source_line == 60][["home_team", "away_team"]].values.tolist() == [["Wealdstone", "King\u2019s Lynn"]]
    d1 = _fixtures("2022-05-06", ["D1"])
    assert len(d1.fixtures) == 9 and d1.n_source_rows == 9
    # Line 2: D1,06/05/2022,19:30,Bochum,Bielefeld, ... B365H=2.15, AHh=-0.25, B365AHH=1.89, PAHA=2
    first = d1.fixtures.iloc[0]
    assert first[["match_date", "kickoff_time", "home_team", "away_team"]].tolist() == [
        dt.date(2022, 5, 6),
        "19:30",
        "Bochum",
        "Bielefeld",
    ]
    odds = d1.odds
    bochum = odds[odds.home_team == "Bochum"].set_index(["bookmaker", "market", "selection"])
    assert bochum.loc[("B365", "1x2", "H"), "price"] == 2.15
    assert bochum.loc[("B365", "ah", "home"), ["line", "price"]].tolist() == [-0.25, 1.89]
    assert bochum.loc[("PS", "ah", "away"), ["line", "price"]].tolist() == [-0.25, 2.0]
    assert set(odds["period"]) == {"pre"}  # closing columns are empty before kick-off
    assert (odds["match_date"] == dt.date(2022, 5, 6)).sum() == len(bochum)


def test_fixtures_2026_current_layout_utf8() -> None:
    parsed = _fixtures("2026-01-30", ["E0", "D2"])
    assert set(parsed.fixtures["div"]) == {"E0", "D2"}
    assert len(parsed.fixtures) == 10 + 9
    assert "Preußen Münster" in set(parsed.fixtures["home_team"]) | set(parsed.fixtures["away_team"])
    assert list(parsed.odds.columns) == list(raw_schema.FIXTURE_ODDS_COLUMNS)
    nothing = _fixtures("2026-01-30", ["XX"])
    assert nothing.fixtures.empty and nothing.odds.empty and nothing.n_source_rows == 0
    assert list(nothing.odds.columns) == list(raw_schema.FIXTURE_ODDS_COLUMNS)
    books = set(parsed.odds["bookmaker"])
    assert {"BFD", "BMGM", "BV", "BFE", "B365", "Max", "Avg"} <= books
    assert parsed.fixtures["kickoff_time"].notna().all()


def test_fixtures_rejections() -> None:
    header = "Div,Date,Time,HomeTeam,AwayTeam,B365H,B365D,B365A"
    rows = [
        "E0,07/05/2022,15:00,Arsenal,Chelsea,2.0,3.5,4.0",
        "E0,07/05/2022,15:00,Arsenal,Chelsea,2.1,3.5,4.0",
    ]
    content = ("\r\n".join([header, *rows]) + "\r\n").encode()
    with pytest.raises(
        SourceFileRejected, match=r"^fx\.csv: conflicting duplicate rows for Arsenal v Chelsea on 07/05/2022 \(E0\)"
    ):
        parse_fixtures_file(content, "fx.csv")
    content = (
        "\n".join([header, rows[0], "E1,07/05/2022,15:00,Leeds,Leeds,2,3,4", "E1,32/05/2022,,Hull,Stoke,,,"])
    ).encode()
    parsed = parse_fixtures_file(content, "fx.csv")
    assert reasons(parsed) == [
        (3, "AwayTeam", "Leeds", "home team equals away team"),
        (4, "Date", "32/05/2022", "unparseable date (expected dd/mm/yy or dd/mm/yyyy)"),
    ]
    assert len(parsed.fixtures) == 1 and parsed.n_source_rows == 3
    assert len(parse_fixtures_file(content, "fx.csv", ["E0"]).fixtures) == 1
    with pytest.raises(
        SourceFileRejected, match=r"^fx\.csv: not a football-data fixtures file: missing column\(s\) HomeTeam"
    ):
        parse_fixtures_file(b"Div,Date,Home Team,AwayTeam\nE0,07/05/2022,A,B\n", "fx.csv")
