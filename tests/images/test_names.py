"""Safe file names from prompts."""

from datetime import date

import pytest

from studio.images.names import MAX_BYTES, format_name, safe_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("red apple", "red-apple"),
        ("a/b\\c:d*e?f\"g<h>i|j", "a_b_c_d_e_f_g_h_i_j"),
        ("tab\there\nnew\x07bell", "tab-here-new_bell"),
        ("  ..hidden.  ", "hidden"),
        ("CON", "_CON"),
        ("", "untitled"),
        ("////", "____"),
        ("猫の顔 🐈", "猫の顔-🐈"),
    ],
)
def test_names_are_safe_and_readable(text, expected):
    assert safe_name(text) == expected


def test_very_long_prompts_are_cut_at_a_character_boundary():
    name = safe_name("ü" * 500)
    assert len(name.encode("utf-8")) <= MAX_BYTES and name == "ü" * (MAX_BYTES // 2)


def test_patterns_fill_their_fields():
    name = format_name("{date}-{seed}-{prompt}", prompt="red/apple", seed=7, index=1, steps=30, sampler="ddim",
                       today=date(2026, 11, 22))
    assert name == "2026-11-22-7-red_apple"
    with pytest.raises(ValueError, match="bad file-name pattern"):
        format_name("{colour}", prompt="x", seed=1, index=1, steps=1, sampler="ddim")
