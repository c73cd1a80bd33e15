"""The CLI accepts exactly what the window can set: both read the one table of limits in core.settings."""

import pytest

from studio import cli
from studio.core.settings import LIMITS

# the subcommand and flag that set each limited setting
FLAGS = {
    "seed": ("generate", "--seed"), "steps": ("generate", "--steps"), "sr_steps": ("generate", "--sr-steps"),
    "eta": ("generate", "--eta"), "churn": ("generate", "--churn"), "snr": ("generate", "--snr"),
    "guidance_scale": ("generate", "--guidance"), "sr_guidance_scale": ("generate", "--sr-guidance"),
    "class_guidance": ("generate", "--class-guidance"), "batch_size": ("generate", "--batch"),
    "noise_augmentation": ("generate", "--noise-aug"), "strength": ("sdedit", "--strength"),
    "repaint_jump": ("inpaint", "--jump"), "repaint_resample": ("inpaint", "--resample"),
    "ilvr_factor": ("ilvr", "--factor"),
}
INPUTS = {"generate": [], "sdedit": ["--image", "p.png"], "inpaint": ["--image", "p.png", "--mask", "m.png"],
          "ilvr": ["--image", "p.png"]}


def shown(value):
    return str(value) if isinstance(value, int) else f"{value:g}"


def settings(command, flag, value):
    args = cli.build_parser().parse_args([command, *INPUTS[command], flag, str(value)])
    return cli.settings_from_args(args)


def test_every_limited_setting_has_a_flag():
    assert set(FLAGS) == set(LIMITS)


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_both_ends_of_every_range_are_accepted(field):
    command, flag = FLAGS[field]
    limit = LIMITS[field]
    for value in (limit.low, limit.high):
        assert getattr(settings(command, flag, value), field) == value


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_one_step_outside_either_end_is_refused_naming_the_range(field):
    command, flag = FLAGS[field]
    limit = LIMITS[field]
    step = 1 if isinstance(limit.low, int) else 0.01
    for value in (limit.low - step, limit.high + step):
        with pytest.raises(cli.CliError) as refused:
            settings(command, flag, value)
        assert str(refused.value) == f"{limit.what} must lie in [{shown(limit.low)}, {shown(limit.high)}], got " \
                                     f"{shown(value)}"


def test_an_integer_bound_is_shown_exactly():
    with pytest.raises(cli.CliError, match=r"^seed must lie in \[0, 2147483647\], got 2147483648$"):
        settings("generate", "--seed", 2**31)


def test_guidance_of_a_billion_is_one_line_and_exit_2_before_any_model_is_read(tmp_path, capsys):
    assert cli.main(["generate", "--model", str(tmp_path / "none"), "--guidance", "1e9",
                     "--out", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err == "studio: error: guidance scale must lie in [0, 30], got 1e+09\n"
    assert list(tmp_path.iterdir()) == []


def test_the_sampler_choices_are_the_sampler_table_and_spacing_and_options_reach_the_settings():
    from studio.core.enums import Spacing
    from studio.diffusion.samplers import sampler_kinds

    parser = cli.build_parser()
    generate = next(a for a in parser._subparsers._group_actions[0].choices["generate"]._actions
                    if a.dest == "sampler")
    assert tuple(generate.choices) == tuple(k.value for k in sampler_kinds())
    s = settings("generate", "--spacing", "karras")
    assert s.spacing is Spacing.KARRAS
    args = parser.parse_args(["generate", "--sampler", "pc", "--snr", "0.3", "--churn", "4"])
    s = cli.settings_from_args(args)
    assert (s.sampler.value, s.snr, s.churn) == ("pc", 0.3, 4.0)


def test_a_respacing_that_is_not_openai_s_syntax_is_one_line_before_any_model_is_read(tmp_path, capsys):
    assert cli.main(["generate", "--model", str(tmp_path / "none"), "--respacing", "fast28",
                     "--out", str(tmp_path / "o.png")]) == 2
    assert capsys.readouterr().err == ("studio: error: respacing 'fast28' is not a step count, a list of counts, "
                                       "ddimN or fast27\n")
    assert settings("generate", "--respacing", "10,10,10").respacing == "10,10,10"
