#!/usr/bin/env python3
"""Transcribe files with faster-whisper, printing one JSON object per file on standard output.

The output follows `nexus-scribe transcribe --format json` (JSON Lines, input order, no line for a
file that failed, exit status 1 if any failed), so scribe-bench reads both engines the same way.
Nothing is downloaded: the model is a local CTranslate2 folder.

    faster_whisper_run.py --model CT2_DIR [--beam-size 5] [--threads 2] [--timing-out FILE] FILE...

--timing-out writes {"import_s", "load_s", "transcribe_s"} (seconds) so the whole-process wall time
measured outside can be split into start-up, model load and transcription.
"""

import argparse
import json
import os
import sys
import time

T0 = time.perf_counter()

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from faster_whisper import WhisperModel  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="CTranslate2 model folder")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timing-out", help="write load/transcribe seconds to this JSON file")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()

    t_import = time.perf_counter()
    model = WhisperModel(
        args.model,
        device="cpu",
        compute_type="int8",
        cpu_threads=args.threads,
        num_workers=1,
        local_files_only=True,
    )
    t_loaded = time.perf_counter()

    failures = 0
    for path in args.files:
        try:
            segments, info = model.transcribe(
                path,
                beam_size=args.beam_size,
                language="en",
                condition_on_previous_text=True,
                vad_filter=False,
                word_timestamps=False,
            )
            segs = [
                {
                    "start_ms": round(s.start * 1000),
                    "end_ms": round(s.end * 1000),
                    "text": s.text,
                    "words": [],
                }
                for s in segments  # the generator does the decoding
            ]
        except Exception as err:  # one bad file must not lose the others
            failures += 1
            print(f"error: {path}: {err}", file=sys.stderr)
            continue
        line = {
            "file": path,
            "text": "".join(s["text"] for s in segs).strip(),
            "language": info.language,
            "duration_ms": round(info.duration * 1000),
            "segments": segs,
        }
        sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    t_done = time.perf_counter()

    if args.timing_out:
        with open(args.timing_out, "w", encoding="utf-8") as f:
            json.dump(
                {
                    "import_s": t_import - T0,
                    "load_s": t_loaded - t_import,
                    "transcribe_s": t_done - t_loaded,
                },
                f,
            )
    if failures:
        print(f"error: {failures} of {len(args.files)} files could not be transcribed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
