"""The `studio` command line: every job headless as a subcommand (with no arguments, `studio` opens the
window instead: studio.__main__ decides, so this module never imports the window)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from studio import __version__
from studio.core.enums import SamplerKind, Spacing, Thresholding
from studio.core.paths import default_model_path
from studio.core.settings import LIMITS, JobKind, Recipe, Settings
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
    _add_ilvr(commands)
    _add_outpaint(commands)
    info = commands.add_parser("info", help="show a model file's or cascade's card and config")
    info.add_argument("path")
    bench = commands.add_parser("bench", help="measure speed")
    bench.add_argument("what", choices=["unet", "sd-unet", "sd-x4"])
    bench.add_argument("--rounds", type=int, default=None, help="rounds (unet 20, sd-unet 5, sd-x4 3)")
    _add_batch(commands)
    _add_data(commands)
    _add_train(commands)
    _add_train_all(commands)
    _add_eval(commands)
    _add_openai(commands)
    return parser


OPENAI_FAMILIES = ("glide", "adm", "iddpm")


def _add_openai(commands) -> None:
    """`import`, `cascade` and `forward`: OpenAI's checkpoints (docs/models.md, README)."""
    p = commands.add_parser("import", help="an OpenAI checkpoint (.pt) → a studio model file")
    p.add_argument("family", choices=OPENAI_FAMILIES)
    p.add_argument("file", help="the .pt file (GLIDE, guided-diffusion or improved-diffusion)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--preset", help="the public file it is (default: recognised from its tensors' shapes)")
    how.add_argument("--flags", help="a JSON file: the reference's command-line flags or its model class's "
                                     "keyword arguments")
    p.add_argument("--out", required=True, help="the model file to write (.safetensors)")
    p.add_argument("--overwrite", action="store_true")
    p = commands.add_parser("cascade", help="write a cascade.json tying base, upsampler and classifier together")
    p.add_argument("--name", required=True)
    p.add_argument("--base", required=True)
    p.add_argument("--sr", default=None)
    p.add_argument("--classifier", default=None)
    p.add_argument("--out", required=True, help="the cascade.json (or its folder) beside the model files")
    p.add_argument("--overwrite", action="store_true")
    p = commands.add_parser("forward", help="run an imported network once (float32, CPU): parity checks")
    p.add_argument("model")
    p.add_argument("--inputs", required=True, help=".npz with in_x, in_timesteps and what the model needs")
    p.add_argument("--out", required=True, help=".npz to write out_model (or out_logits)")


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
    p.add_argument("--init", default=None,
                   help="fine-tune: start from this model file (its architecture, vocabulary and weights)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for training (default: all)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


def _add_train_all(commands) -> None:
    p = commands.add_parser("train-all", help="train base, SR and classifier at once (one GPU lease)")
    p.add_argument("--data", required=True, help="the dataset .npz (128 px for the GPU cascade)")
    p.add_argument("--out", required=True, help="folder for the float16 models, cascade.json, grids and log")
    p.add_argument("--work", default=None, help="folder for checkpoints and stage logs (default: OUT/work)")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None,
                   help="where to train (default: cuda; cpu for a dry run)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="the longest stage's wall-clock budget; the others keep their share of it")
    p.add_argument("--dry-run", action="store_true",
                   help="the same run with tiny networks and a few seconds each (on the CPU unless --device)")
    p.add_argument("--init", default=None,
                   help="continue from this cascade (folder or cascade.json): each stage starts from its model")


def _add_eval(commands) -> None:
    p = commands.add_parser("eval", help="classification accuracy score and Fréchet distance")
    p.add_argument("--model", default=None, help="the model or cascade to evaluate (default: the shipped one)")
    p.add_argument("--classifier", required=True, help="a classifier trained on the real data")
    p.add_argument("--data", required=True, help="the real dataset (.npz)")
    p.add_argument("--per-class", type=int, default=4, help="generated images per class")
    p.add_argument("--max-classes", type=int, default=None)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--guidance", type=float, default=3.0)
    p.add_argument("--eta", type=float, default=None,
                   help="DDIM η (default: the model's own, as the studio samples it)")
    p.add_argument("--no-cascade", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None,
                   help="model file, cascade folder or cascade JSON (default: the shipped emoji cascade)")
    _add_settings(p, COMMON_SETTINGS)
    p.add_argument("--save-steps", metavar="DIR", help="write the x_t and x̂₀ of every step here")
    p.add_argument("--sequence-format", choices=["frames", "gif", "webp", "sheet"], default="frames",
                   help="how --save-steps writes the steps")
    p.add_argument("--recipe-from", metavar="IMAGE",
                   help="take the job kind and every setting from a studio PNG's recipe; flags given with it "
                        "override its values")
    p.add_argument("--device", choices=["cpu", "cuda", "mps"], default=None)


@dataclass(frozen=True)
class SettingFlag:
    """A flag that sets one field of `Settings`. Its default is left out of the namespace (SUPPRESS), so
    only the flags the user typed are there: those go on top of `Settings()` or of a recipe's settings."""

    flag: str
    field: str
    help: str
    type: Callable[[str], object] | None = str
    choices: tuple[str, ...] | None = None

    def add_to(self, p: argparse.ArgumentParser) -> None:
        if self.type is None:  # a switch that turns a setting off
            p.add_argument(self.flag, dest=self.field, action="store_false", default=argparse.SUPPRESS,
                           help=self.help)
            return
        metavar = None if self.choices else self.flag.removeprefix("--").upper().replace("-", "_")
        p.add_argument(self.flag, dest=self.field, type=self.type, choices=self.choices, metavar=metavar,
                       default=argparse.SUPPRESS, help=self._help())

    def _help(self) -> str:
        default = getattr(Settings(), self.field)
        parts = [self.help] if self.help else []
        if self.field in LIMITS:
            limit = LIMITS[self.field]
            parts.append(f"{_number(limit.low)} to {_number(limit.high)}")
        if default not in (None, ""):
            parts.append(f"default {getattr(default, 'value', default)}")
        return "; ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


COMMON_SETTINGS = (
    SettingFlag("--prompt", "prompt", "what to make"),
    SettingFlag("--negative", "negative_prompt", "negative prompt (replaces the empty prompt in CFG)"),
    SettingFlag("--steps", "steps", "denoising steps of the base model (clears a respacing string from the model "
                "or the recipe)", int),
    # SamplerKind is the sampler table's key set (the contract tests hold them equal); the CLI reads the enum
    # so that `studio --help` does not import torch
    SettingFlag("--sampler", "sampler", "how each step moves (see docs/samplers.md)", str,
                tuple(k.value for k in SamplerKind)),
    SettingFlag("--eta", "eta", "DDIM η (0 = deterministic)", float),
    SettingFlag("--churn", "churn", "Karras's S_churn: noise added before each Euler/Heun step", float),
    SettingFlag("--snr", "snr", "signal-to-noise ratio of the predictor–corrector's Langevin step", float),
    SettingFlag("--spacing", "spacing", "how steps are picked from the timesteps", str,
                tuple(k.value for k in Spacing)),
    SettingFlag("--respacing", "respacing", "the base chain as OpenAI's respacing string (250, 10,10,10, ddim25, "
                "fast27), instead of --steps", str),
    SettingFlag("--guidance", "guidance_scale", "classifier-free guidance scale", float),
    SettingFlag("--class-label", "class_label", "target class of classifier guidance", int),
    SettingFlag("--class-guidance", "class_guidance", "classifier guidance scale", float),
    SettingFlag("--threshold", "thresholding", "how x̂₀ is kept in range", str, tuple(k.value for k in Thresholding)),
    SettingFlag("--seed", "seed", "", int),
    SettingFlag("--batch", "batch_size", "images per run (--out gets -1, -2, …)", int),
    SettingFlag("--no-cascade", "cascade", "skip the super-resolution stage", None),
    SettingFlag("--sr-steps", "sr_steps", "denoising steps of the super-resolution stage (clears a respacing "
                "string from the model or the recipe)", int),
    SettingFlag("--sr-respacing", "sr_respacing", "the super-resolution chain as a respacing string (fast27, "
                "100, …), instead of --sr-steps", str),
    SettingFlag("--sr-sampler", "sr_sampler", "the super-resolution stage's own sampler (default: the model's, "
                "else --sampler's)", str, tuple(k.value for k in SamplerKind)),
    SettingFlag("--sr-guidance", "sr_guidance_scale", "classifier-free guidance of the super-resolution stage "
                "(1 = none; default: the model's)", float),
    SettingFlag("--noise-aug", "noise_augmentation", "cascade noise augmentation", float),
)
ILVR_FACTOR = SettingFlag("--factor", "ilvr_factor", "down-sampling factor N: keep the reference's N×N block means",
                          int)
STRENGTH = SettingFlag("--strength", "strength", "0 keeps the painting, 1 ignores it", float)
REPAINT = (SettingFlag("--jump", "repaint_jump", "RePaint jump length", int),
           SettingFlag("--resample", "repaint_resample", "RePaint resample count (1 = replacement)", int))


def _add_settings(p: argparse.ArgumentParser, flags: Sequence[SettingFlag]) -> None:
    for flag in flags:
        flag.add_to(p)


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
    _add_settings(p, [STRENGTH])


def _add_inpaint(commands) -> None:
    p = commands.add_parser("inpaint", help="regenerate the masked part of an image")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True)
    p.add_argument("--mask", required=True, help="white (or opaque) where the model should paint")
    _add_settings(p, REPAINT)


def _add_upscale(commands) -> None:
    p = commands.add_parser("upscale", help="the super-resolution stage on any image")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True)


def _add_ilvr(commands) -> None:
    p = commands.add_parser("ilvr", help="text → image that keeps a reference's coarse structure (ILVR)")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True, help="the reference (resized to the model's size)")
    _add_settings(p, [ILVR_FACTOR])


def _add_outpaint(commands) -> None:
    p = commands.add_parser("outpaint", help="grow an image on any side and paint the new area (inpainting "
                                             "in overlapping windows of the model's size)")
    _add_common(p)
    _add_output(p)
    p.add_argument("--image", required=True)
    for side in ("left", "top", "right", "bottom"):
        p.add_argument(f"--{side}", type=int, default=0, metavar="PX", help=f"pixels added on the {side}")
    p.add_argument("--overlap", type=int, default=None, metavar="PX",
                   help="overlap of neighbouring windows (default: half the model's size)")
    _add_settings(p, REPAINT)


# which job kind each subcommand runs, and what a recipe of that kind needs besides the recipe
COMMAND_KINDS = {"generate": JobKind.TEXT_TO_IMAGE, "batch": JobKind.TEXT_TO_IMAGE,
                 "sdedit": JobKind.STROKES_TO_IMAGE, "inpaint": JobKind.INPAINT, "upscale": JobKind.UPSCALE,
                 "ilvr": JobKind.ILVR, "outpaint": JobKind.INPAINT}
KIND_COMMANDS = {JobKind.TEXT_TO_IMAGE: "generate", JobKind.STROKES_TO_IMAGE: "sdedit --image PAINTING",
                 JobKind.INPAINT: "inpaint --image IMAGE --mask MASK", JobKind.UPSCALE: "upscale --image IMAGE",
                 JobKind.ILVR: "ilvr --image REFERENCE"}
SETTING_FIELDS = frozenset(f.name for f in fields(Settings))


def settings_from_args(args: argparse.Namespace) -> Settings:
    """The flags the user gave, on top of `--recipe-from`'s settings (or of the defaults)."""
    recipe: Recipe | None = getattr(args, "source_recipe", None)
    given = {name: value for name, value in vars(args).items() if name in SETTING_FIELDS}
    for steps, respacing in (("steps", "respacing"), ("sr_steps", "sr_respacing")):
        if steps in given and respacing not in given:  # a step count typed beats the model's or recipe's string
            given[respacing] = ""
    try:
        return (recipe.settings if recipe is not None else Settings(**_model_defaults(args))).with_(**given)
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _model_defaults(args: argparse.Namespace) -> dict[str, float | str]:
    """The settings the authors of `--model` (else of the shipped cascade) sample with: an imported preset's
    scales and respacing strings (base and upsampler), our own models' η; an unreadable model is the job's
    own error to report, so it gives none here."""
    from studio.engine.model_info import ModelFileError, setting_defaults

    try:
        return setting_defaults(getattr(args, "model", None) or default_model_path())
    except (ModelFileError, ValueError, OSError):
        return {}


def attach_recipe(args: argparse.Namespace) -> None:
    """Read `--recipe-from` into `args.source_recipe`, after checking that this command runs its kind of job
    (a strokes or inpaint recipe needs its images, which only its own command takes)."""
    path = getattr(args, "recipe_from", None)
    if not path:
        return
    try:
        recipe = read_recipe(path)
    except OSError as exc:
        raise CliError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise CliError(f"{path}: {exc}") from None
    if recipe is None:
        raise CliError(f"{path}: has no studio recipe")
    if recipe.fork is not None:
        raise CliError(f"{path}: forked from {recipe.fork[0]} step {recipe.fork[1]} of another run, whose x_t "
                       f"the PNG does not hold; re-run it from the window's timeline")
    if recipe.kind is not COMMAND_KINDS[args.command]:
        raise CliError(f"{path}: is a {recipe.kind.value} recipe; run `studio {KIND_COMMANDS[recipe.kind]} "
                       f"--recipe-from {path}`")
    args.source_recipe = recipe


def _default_model() -> str:
    path = default_model_path()
    if not (path / "cascade.json").is_file():
        raise CliError(f"no --model given and the default cascade is missing ({path}); pass --model")
    return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; errors are one line on stderr and exit status 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise CliError("no command given; see `studio --help`")
        if getattr(args, "model", "") is None:
            args.model = _default_model()
        attach_recipe(args)
        from studio import commands  # torch is imported only once a command needs it

        return commands.dispatch(args, settings_from_args)
    except CliError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("studio: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
