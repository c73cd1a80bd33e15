"""The bodies of `studio import`, `studio cascade` and `studio forward` (OpenAI's checkpoints)."""

from __future__ import annotations

import argparse
import sys

from studio.engine.openai_import import forward_npz, import_checkpoint, write_cascade


def run(args: argparse.Namespace) -> int:
    if args.command == "import":
        def progress(what: str, fraction: float) -> None:
            print(f"studio: {what} ({fraction:.0%})", file=sys.stderr)

        result = import_checkpoint(args.family, args.file, args.out, preset=args.preset, flags=args.flags,
                                   overwrite=args.overwrite, progress=progress)
        source = f"preset {result.preset}" if result.preset else "the given flags"
        print(f"studio: {result.parameters:,} parameters ({result.dtype}) from {source}", file=sys.stderr)
        print(result.path)
        return 0
    if args.command == "cascade":
        print(write_cascade(args.out, args.name, args.base, args.sr, args.classifier, overwrite=args.overwrite))
        return 0
    print(forward_npz(args.model, args.inputs, args.out))
    return 0
