#!/usr/bin/env python3
"""Normalise texts for WER scoring with Whisper's English text normaliser.

Reads a JSON array of strings on standard input and writes a JSON array of the normalised strings,
in the same order, on standard output. `(` and `)` become spaces first: the normaliser deletes
bracketed text (meant for tags such as "(music)"), which would drop real spoken asides.

    score.py --check [--peer]   imports what the benchmark needs (faster-whisper too with --peer)
                                and prints the package versions as JSON; exit status 3 if missing
"""

import json
import sys


def check(peer: bool) -> int:
    from importlib.metadata import version

    needed = [("whisper_normalizer.english", "whisper-normalizer")]
    if peer:
        needed += [("faster_whisper", "faster-whisper"), ("ctranslate2", "ctranslate2")]
    out, missing = {}, []
    for module, package in needed:
        try:
            __import__(module)
            out[package] = version(package)
        except Exception as err:  # ImportError, or a broken install failing on import
            missing.append(package)
            print(f"cannot import {module}: {err}", file=sys.stderr)
    if missing:
        return 3
    print(json.dumps(out))
    return 0


def main() -> int:
    if sys.argv[1:2] == ["--check"]:
        return check("--peer" in sys.argv[2:])
    from whisper_normalizer.english import EnglishTextNormalizer

    normalise = EnglishTextNormalizer()
    texts = json.load(sys.stdin)
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        print("error: expected a JSON array of strings on standard input", file=sys.stderr)
        return 2
    out = [normalise(t.replace("(", " ").replace(")", " ")) for t in texts]
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
