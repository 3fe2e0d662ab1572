"""Check characters of GB 11643 resident IDs and GB 32100 credit codes, and the password-complexity rule.

The expected check characters are computed here from the formulas in the domain README, independently
of the implementation under test.
"""

import datetime as dt

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from minesafe.core.validators import (
    CREDIT_WEIGHTS,
    RESIDENT_ID_WEIGHTS,
    PasswordComplexityValidator,
    credit_code_check_char,
    credit_code_error,
    org_code_check_char,
    resident_id_check_char,
    resident_id_error,
    validate_credit_code,
    validate_resident_id,
)

DIGITS = "0123456789"
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
RESIDENT_ID_SAMPLE = "11010519491231002X"
CREDIT_CODE_SAMPLE = "91350100M000100Y43"
FIXED_TODAY = dt.date(2026, 3, 15)


@pytest.fixture(autouse=True)
def english():
    """Reason strings are compared in English whatever translations exist."""
    with translation.override("en"):
        yield


# Independent reference implementations (domain README, "Check digits") ------------------------------
def expected_resident_check(first17: str) -> str:
    total = sum(int(d) * (2 ** (18 - i) % 11) for i, d in enumerate(first17, start=1))
    return "10X98765432"[total % 11]


def expected_credit_check(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * (3 ** (i - 1) % 31) for i, c in enumerate(first17, start=1))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


# Strategies ---------------------------------------------------------------------------------------
@st.composite
def resident_ids(draw) -> str:
    region = draw(st.text(alphabet=DIGITS, min_size=6, max_size=6))
    birth = draw(st.dates(min_value=dt.date(1900, 1, 1), max_value=FIXED_TODAY))
    sequence = draw(st.text(alphabet=DIGITS, min_size=3, max_size=3))
    first17 = f"{region}{birth:%Y%m%d}{sequence}"
    return first17 + expected_resident_check(first17)


@st.composite
def credit_codes(draw) -> str:
    head = draw(st.text(alphabet=CREDIT_ALPHABET, min_size=2, max_size=2))
    division = draw(st.text(alphabet=DIGITS, min_size=6, max_size=6))
    organisation = draw(st.text(alphabet=CREDIT_ALPHABET, min_size=9, max_size=9))
    first17 = head + division + organisation
    return first17 + expected_credit_check(first17)


def resident_allowed(position: int) -> str:
    return DIGITS + "X" if position == 17 else DIGITS


def credit_allowed(position: int) -> str:
    return DIGITS if 2 <= position <= 7 else CREDIT_ALPHABET


# Resident ID (GB 11643-1999) ----------------------------------------------------------------------
def test_resident_id_weights_are_the_documented_sequence():
    assert RESIDENT_ID_WEIGHTS == [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def test_documented_resident_id_test_value_is_valid():
    assert resident_id_error(RESIDENT_ID_SAMPLE) is None
    assert resident_id_check_char(RESIDENT_ID_SAMPLE[:17]) == "X"
    validate_resident_id(RESIDENT_ID_SAMPLE)


def test_resident_id_with_lower_case_x_is_accepted():
    assert resident_id_error(RESIDENT_ID_SAMPLE.lower()) is None
    validate_resident_id("11010519491231002x")


def test_resident_id_surrounding_whitespace_is_ignored():
    assert resident_id_error(f"  {RESIDENT_ID_SAMPLE}\n") is None


@given(resident_ids())
def test_generated_resident_id_with_computed_check_char_always_validates(value):
    assert resident_id_error(value, today=FIXED_TODAY) is None
    assert resident_id_check_char(value[:17]) == value[17]


@given(resident_ids(), st.data())
def test_resident_id_with_any_single_character_changed_always_fails(value, data):
    position = data.draw(st.integers(min_value=0, max_value=17), label="position")
    replacement = data.draw(st.sampled_from([c for c in resident_allowed(position) if c != value[position]]),
                            label="replacement")
    changed = value[:position] + replacement + value[position + 1:]
    assert resident_id_error(changed, today=FIXED_TODAY) is not None


@given(resident_ids(), st.sampled_from(DIGITS + "X"))
def test_resident_id_with_wrong_check_char_names_the_expected_one(value, wrong):
    if wrong == value[17]:
        wrong = "0" if value[17] != "0" else "1"
    reason = resident_id_error(value[:17] + wrong, today=FIXED_TODAY)
    assert reason == f"check character should be {value[17]}"


@pytest.mark.parametrize("value, length", [("", 0), (RESIDENT_ID_SAMPLE[:17], 17), (RESIDENT_ID_SAMPLE + "1", 19),
                                           ("110105194912310", 15)])
def test_resident_id_of_wrong_length_gives_the_length_reason(value, length):
    assert resident_id_error(value) == f"must be 18 characters, got {length}"


def test_resident_id_none_is_treated_as_empty():
    assert resident_id_error(None) == "must be 18 characters, got 0"


@pytest.mark.parametrize("value", ["1101051949123100X2", "11010519491231A02X", "1101051949-231002X",
                                   "X10105194912310021"])
def test_resident_id_with_non_digit_characters_gives_the_character_reason(value):
    assert resident_id_error(value) == "only digits, with X allowed as the last character"


@pytest.mark.parametrize("date", ["19490230", "20230229", "19491301", "19490001", "19490100", "19490431"])
def test_resident_id_with_impossible_birth_date_gives_the_date_reason(date):
    first17 = f"110105{date}002"
    value = first17 + expected_resident_check(first17)
    assert resident_id_error(value) == f"birth date {date} is not a real date"


def test_resident_id_on_a_leap_day_is_valid():
    first17 = "11010520000229002"
    assert resident_id_error(first17 + expected_resident_check(first17), today=FIXED_TODAY) is None


@pytest.mark.parametrize("date, iso", [("18991231", "1899-12-31"), ("20260316", "2026-03-16")])
def test_resident_id_born_before_1900_or_after_today_is_out_of_range(date, iso):
    first17 = f"110105{date}002"
    value = first17 + expected_resident_check(first17)
    assert resident_id_error(value, today=FIXED_TODAY) == f"birth date {iso} is out of range"


def test_resident_id_born_today_is_in_range():
    first17 = f"110105{FIXED_TODAY:%Y%m%d}002"
    assert resident_id_error(first17 + expected_resident_check(first17), today=FIXED_TODAY) is None


def to_fullwidth(value: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in value)


def to_arabic_indic(value: str) -> str:
    return "".join(chr(0x660 + int(c)) if c.isdigit() else c for c in value)


@pytest.mark.parametrize("value", [to_fullwidth(RESIDENT_ID_SAMPLE), to_arabic_indic(RESIDENT_ID_SAMPLE)],
                         ids=["fullwidth", "arabic-indic"])
def test_resident_id_with_non_ascii_digits_is_rejected(value):
    # GB 11643 numbers are ASCII digits; full-width digits (common in pasted Chinese spreadsheets) must not be
    # accepted and stored as a different string from the same person's ID.
    assert resident_id_error(value) == "only digits, with X allowed as the last character"


def test_validate_resident_id_raises_validation_error_with_reason():
    with pytest.raises(ValidationError) as excinfo:
        validate_resident_id("110105194912310021")
    assert excinfo.value.code == "resident_id"
    assert "check character should be X" in excinfo.value.messages[0]


# Unified social credit code (GB 32100-2015) ------------------------------------------------------
def test_credit_code_weights_are_the_documented_sequence():
    assert CREDIT_WEIGHTS == [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def test_documented_credit_code_test_value_is_valid():
    assert credit_code_error(CREDIT_CODE_SAMPLE) is None
    assert credit_code_check_char(CREDIT_CODE_SAMPLE[:17]) == "3"
    validate_credit_code(CREDIT_CODE_SAMPLE)


def test_credit_code_in_lower_case_is_accepted():
    assert credit_code_error(CREDIT_CODE_SAMPLE.lower()) is None


@given(credit_codes())
def test_generated_credit_code_with_computed_check_char_always_validates(value):
    assert credit_code_error(value) is None
    assert credit_code_check_char(value[:17]) == value[17]


@given(credit_codes(), st.data())
def test_credit_code_with_any_single_character_changed_always_fails(value, data):
    position = data.draw(st.integers(min_value=0, max_value=17), label="position")
    replacement = data.draw(st.sampled_from([c for c in credit_allowed(position) if c != value[position]]),
                            label="replacement")
    changed = value[:position] + replacement + value[position + 1:]
    assert credit_code_error(changed) is not None


@given(credit_codes(), st.integers(min_value=2, max_value=7), st.sampled_from("ABCDEFGHJKLMNPQRTUWXY"))
def test_credit_code_with_a_letter_in_the_division_code_gives_the_division_reason(value, position, letter):
    changed = value[:position] + letter + value[position + 1:]
    assert credit_code_error(changed) == "characters 3-8 must be a division code"


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_credit_code_with_an_excluded_letter_gives_the_alphabet_reason(letter):
    value = CREDIT_CODE_SAMPLE[:8] + letter + CREDIT_CODE_SAMPLE[9:]
    assert credit_code_error(value) == "contains a character outside 0-9 and A-Y without I, O, S, V, Z"


@pytest.mark.parametrize("value, length", [("", 0), (CREDIT_CODE_SAMPLE[:17], 17), (CREDIT_CODE_SAMPLE + "0", 19)])
def test_credit_code_of_wrong_length_gives_the_length_reason(value, length):
    assert credit_code_error(value) == f"must be 18 characters, got {length}"


def test_credit_code_with_wrong_check_char_names_the_expected_one():
    assert credit_code_error(CREDIT_CODE_SAMPLE[:17] + "4") == "check character should be 3"


def test_validate_credit_code_raises_validation_error_with_reason():
    with pytest.raises(ValidationError) as excinfo:
        validate_credit_code("91350100M000100Y44")
    assert excinfo.value.code == "credit_code"
    assert "check character should be 3" in excinfo.value.messages[0]


@pytest.mark.parametrize("first8, check", [("D2143569", "X"), ("M000100Y", "4")])
def test_embedded_organisation_code_check_char_follows_gb_11714(first8, check):
    assert org_code_check_char(first8) == check


def test_organisation_code_check_of_eleven_is_zero():
    # 11 - (S mod 11) == 11 when S is a multiple of 11: "00000000" sums to 0.
    assert org_code_check_char("00000000") == "0"


# Passwords ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("password", ["abcdefgh1", "ABCDEFGH1", "abcdefgh!", "abcdefgh", "12345678!"])
def test_password_with_fewer_than_three_character_classes_is_rejected(password):
    with pytest.raises(ValidationError) as excinfo:
        PasswordComplexityValidator().validate(password)
    assert excinfo.value.code == "password_too_simple"


@pytest.mark.parametrize("password", ["Abcdefg1", "abcdefg!1", "ABCDEFG!1", "Abcdefg!", "Ab1!xxxx"])
def test_password_with_three_or_more_character_classes_is_accepted(password):
    PasswordComplexityValidator().validate(password)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*-_", max_size=20))
def test_password_is_accepted_exactly_when_it_mixes_three_classes(password):
    classes = sum([
        any(c in "abcdefghijklmnopqrstuvwxyz" for c in password),
        any(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" for c in password),
        any(c in "0123456789" for c in password),
        any(c in "!@#$%^&*-_" for c in password),
    ])
    try:
        PasswordComplexityValidator().validate(password)
        accepted = True
    except ValidationError:
        accepted = False
    assert accepted == (classes >= 3)


def test_password_complexity_is_part_of_the_configured_validators():
    with pytest.raises(ValidationError) as excinfo:
        validate_password("abcdefgh1")
    assert "password_too_simple" in {e.code for e in excinfo.value.error_list}
    validate_password("Kuancheng2026")  # "Abcdefg1" itself is on Django's common-password list
