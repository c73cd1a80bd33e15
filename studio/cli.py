"""The `studio` command: the window with no arguments, and every job headless as a subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from studio import __version__
from studio.core.enums import SamplerKind, Thresholding
from studio.core.paths import default_model_path
from studio.core.settings import JobKind, Settings
from studio.images.metadata import read_recipe


class CliError(Exception):
    """A user mistake: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage over several lines; we print one
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="studio", description="Diffusion Studio: paint and generate images locally.")
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_generate(commands)
    _add_sdedit(commands)
    _add_inpaint(commands)
    _add_upscale(commands)
    info = commands.add_parser("info", help="show a model file's or cascade's card and config")
    info.add_argument("path")
    bench = commands.add_parser("bench", help="measure speed")
    bench.add_argument("what", choices=["unet"])
    bench.add_argument("--rounds", type=int, default=20)
    _add_batch(commands)
    _add_data(commands)
    _add_train(commands)
    _add_eval(commands)
    return parser


def _add_batch(commands) -> None:
    p = commands.add_parser("batch", help="every prompt of a file × every seed, into a folder")
    _add_common(p)
    p.add_argument("--out", required=True, help="the folder to write into")
    p.add_argument("--prompts", required=True, help="a text file, one prompt per line (# comments)")
    p.add_argument("--seeds", default="1-4", help="e.g. 1-8 or 3,5,9")
    p.add_argument("--pattern", default="{seed}-{prompt}", help="file names: {date} {seed} {prompt} {index} …")
    p.add_argument("--format", choices=["png", "jpg", "webp"], default="png")
    p.add_argument("--grid", action="store_true", help="also write contact-sheet.png")
    p.add_argument("--no-metadata", action="store_true", help="write no prompt or recipe into the files")


def _add_data(commands) -> None:
    p = commands.add_parser("data", help="build a training set")
    p.add_argument("source", choices=["emoji"])
    p.add_argument("--out", required=True, help="folder for the dataset file")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--limit", type=int, default=None, help="keep only the first N emoji")
    p.add_argument("--skin-tones", action="store_true", help="include skin-tone variants")


def _add_train(commands) -> None:
    p = commands.add_parser("train", help="train (or resume training) a model")
    p.add_argument("--role", required=True, choices=["base", "sr", "classifier"])
    p.add_argument("--data", required=True, help="a dataset .npz, or a folder of pictures")
    p.add_argument("--recipe", required=True, help="a built-in recipe name or a recipe JSON file")
    p.add_argument("--out", required=True, help="the model file to write when training finishes")
    p.add_argument("--max-minutes", type=float, default=None, help="stop with a checkpoint after this long")
    p.add_argument("--steps", type=int, default=None, help="override the recipe's step count")
    p.add_argument("--half", action="store_true", help="write the final weights as float16")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="wall-clock budget of the whole run: the schedules anneal to it and the run ends in it")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for training (default: all)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


def _add_eval(commands) -> None:
    p = commands.add_parser("eval", help="classification accuracy score and Fréchet distance")
    p.add_argument("--model", default=None, help="the model or cascade to evaluate (default: the shipped one)")
    p.add_argument("--classifier", required=True, help="a classifier trained on the real data")
    p.add_argument("--data", required=True, help="the real dataset (.npz)")
    p.add_argument("--per-class", type=int, default=4, help="generated images per class")
    p.add_argument("--max-classes", type=int, default=None)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--no-cascade", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


def _add_common(p: argparse.ArgumentParser, *, default_steps: int = 30) -> None:
    p.add_argument("--model", default=None,
                   help="model file, cascade folder or cascade JSON (default: the shipped emoji cascade)")
    p.add_argument("--prompt", default="")
    p.add_argument("--negative", default="", help="negative prompt (replaces the empty prompt in CFG)")
    p.add_argument("--steps", type=int, default=default_steps)
    p.add_argument("--sampler", choices=[k.value for k in SamplerKind], default="ddim")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM η (0 = deterministic)")
    p.add_argument("--guidance", type=float, default=3.0, help="classifier-free guidance scale")
    p.add_argument("--class-label", type=int, default=None, help="target class of classifier guidance")
    p.add_argument("--class-guidance", type=float, default=0.0, help="classifier guidance scale")
    p.add_argument("--threshold", choices=[k.value for k in Thresholding], default="static")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--no-cascade", action="store_true", help="skip the super-resolution stage")
    p.add_argument("--sr-steps", type=int, default=20)
    p.add_argument("--noise-aug", type=float, default=0.1, help="cascade noise augmentation in [0, 1]")
    p.add_argument("--save-steps", metavar="DIR", help="write the x_t and x̂₀ of every step here")
    p.add_argument("--sequence-format", choices=["frames", "gif", "webp", "sheet"], default="frames",
                   help="how --save-steps writes the steps")
    p.add_argument("--recipe-from", metavar="IMAGE", help="take every setting from a studio PNG's recipe")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="studio.png",
                   help="output image; .png, .jpg or .webp sets the format (a batch adds -1, -2, …)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


def _add_generate(commands) -> None:
    p = commands.add_parser("generate", help="text → image (then the cascade, if the model has one)")
    _add_common(p)
    _add_output(p)


def _add_sdedit(commands) -> None:
    p = commands.add_parser("sdedit", help="strokes → image: refine a rough painting (SDEdit)")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True, help="the painting")
    p.add_argument("--strength", type=float, default=0.6, help="0 keeps the painting, 1 ignores it")


def _add_inpaint(commands) -> None:
    p = commands.add_parser("inpaint", help="regenerate the masked part of an image")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True)
    p.add_argument("--mask", required=True, help="white (or opaque) where the model should paint")
    p.add_argument("--jump", type=int, default=1, help="RePaint jump length")
    p.add_argument("--resample", type=int, default=1, help="RePaint resample count (1 = replacement)")


def _add_upscale(commands) -> None:
    p = commands.add_parser("upscale", help="the super-resolution stage on any image")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True)


# flag dest → the Settings field it sets (and how); what `--recipe-from` lets an explicit flag override
FLAG_FIELDS: dict[str, tuple[str, object]] = {
    "prompt": ("prompt", str), "negative": ("negative_prompt", str), "seed": ("seed", int),
    "steps": ("steps", int), "sampler": ("sampler", SamplerKind), "eta": ("eta", float),
    "guidance": ("guidance_scale", float), "class_label": ("class_label", int),
    "class_guidance": ("class_guidance", float), "threshold": ("thresholding", Thresholding),
    "batch": ("batch_size", int), "no_cascade": ("cascade", lambda v: not v), "sr_steps": ("sr_steps", int),
    "noise_aug": ("noise_augmentation", float), "strength": ("strength", float),
    "jump": ("repaint_jump", int), "resample": ("repaint_resample", int),
}
COMMAND_KINDS = {"generate": JobKind.TEXT_TO_IMAGE, "sdedit": JobKind.STROKES_TO_IMAGE,
                 "inpaint": JobKind.INPAINT, "upscale": JobKind.UPSCALE}
KIND_FLAGS = {JobKind.TEXT_TO_IMAGE: "", JobKind.STROKES_TO_IMAGE: " --image PAINTING",
              JobKind.INPAINT: " --image IMAGE --mask MASK", JobKind.UPSCALE: " --image IMAGE"}


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The settings of the flags — or of `--recipe-from`'s recipe, with the flags given explicitly on
    top of it."""
    values = {field: None if getattr(args, dest) is None else convert(getattr(args, dest))
              for dest, (field, convert) in FLAG_FIELDS.items() if hasattr(args, dest)}
    recipe = getattr(args, "recipe", None)
    if recipe is not None:
        values = recipe.settings.to_dict() | {k: v for k, v in values.items() if k in _explicit_fields(args)}
    try:
        return Settings.from_dict(values)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _explicit_fields(args: argparse.Namespace) -> set[str]:
    return {FLAG_FIELDS[dest][0] for dest in getattr(args, "explicit", set()) if dest in FLAG_FIELDS}


def attach_recipe(args: argparse.Namespace, parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Read `--recipe-from`, check that this command runs that kind of job, note the flags given."""
    path = getattr(args, "recipe_from", None)
    if not path:
        return
    try:
        recipe = read_recipe(path)
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc})") from None
    except ValueError as exc:
        raise CliError(f"{path}: {exc}") from None
    if recipe is None:
        raise CliError(f"{path}: has no studio recipe")
    if recipe.fork is not None:
        raise CliError(f"{path}: forked from {recipe.fork[0]} step {recipe.fork[1]} of another run, whose x_t "
                       f"the PNG does not hold; re-run it from the window's timeline")
    wanted = COMMAND_KINDS.get(args.command)
    if wanted is not None and recipe.kind is not wanted:
        command = next(c for c, k in COMMAND_KINDS.items() if k is recipe.kind)
        raise CliError(f"{path}: is a {recipe.kind.value} recipe; run `studio {command} --recipe-from {path}"
                       f"{KIND_FLAGS[recipe.kind]}`")
    args.recipe = recipe
    args.explicit = _given_dests(parser, args.command, argv)


def _given_dests(parser: argparse.ArgumentParser, command: str, argv: Sequence[str]) -> set[str]:
    """The dests of the options that appear on the command line (not left at their defaults)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    given = set()
    for action in sub._actions:
        if any(token == opt or token.startswith(opt + "=") for opt in action.option_strings for token in argv):
            given.add(action.dest)
    return given


def _default_model() -> str:
    path = default_model_path()
    if not (path / "cascade.json").is_file():
        raise CliError(f"no --model given and the default cascade is missing ({path}); pass --model")
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        return _open_window()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            raise CliError("no command given; see `studio --help`")
        if getattr(args, "model", "") is None:
            args.model = _default_model()
        attach_recipe(args, parser, argv)
        from studio import commands  # torch is imported only once a command needs it

        return commands.dispatch(args, settings_from_args)
    except CliError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: cancelled", file=sys.stderr)
        return 130


def _open_window() -> int:
    try:
        from studio.__main__ import run_window
    except ImportError as exc:
        print(f"studio: error: the window cannot start ({exc})", file=sys.stderr)
        return 1
    return run_window()


if __name__ == "__main__":
    sys.exit(main())
