"""Irish folk tunes in ABC notation, shipped with the package, and a helper that plays ABC text as audio.

The tunes are those of the music-generation lab of MIT Introduction to Deep Learning (MIT licence, see
``files/irish.abc.LICENSE.md``). Taught in "Lab: generating music" (``book/part2/music_lab.md``).
"""

import importlib.resources
import re
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

_HEADER = re.compile(r"^[A-Za-z]:")


def load_irish_songs():
    """The tunes of the lab's ``irish.abc``, one string per tune, each starting with its ``X:`` line.

    Blank lines inside a tune (two tunes of the file have one between header and melody) are dropped,
    so every tune is one contiguous block of ABC text.

    Taught in "Lab: generating music" (book/part2/music_lab.md).
    """
    text = importlib.resources.files("minidl.data").joinpath("files/irish.abc").read_text(encoding="utf-8")
    songs, lines = [], None
    for line in text.splitlines():
        if line.startswith("X:"):
            if lines:
                songs.append("\n".join(lines))
            lines = [line]
        elif lines is not None and line.strip():
            lines.append(line.rstrip())
    if lines:
        songs.append("\n".join(lines))
    return songs


def _first_bars(abc_text, max_bars):
    """The header lines and the first ``max_bars`` bars of the melody, with repeat signs removed."""
    header, body = [], []
    for line in abc_text.strip().splitlines():
        in_header = not body and _HEADER.match(line) and not (header and header[-1].startswith("K:"))
        (header if in_header else body).append(line)
    melody = " ".join(body).replace("!", " ")
    melody = re.sub(r":*\|+:*|::", "|", melody)  # repeats ( |: :| :: ) become plain bar lines
    bars = [bar for bar in melody.split("|") if bar.strip()]
    if max_bars is not None:
        bars = bars[:max_bars]
    return "\n".join(header + ["|".join(bars) + "|"]) + "\n"


def abc_to_audio(abc_text, format="ogg", sample_rate=16000, max_bars=8, max_seconds=15.0):
    """Render one ABC tune to mono audio bytes (Ogg Vorbis or WAV), or None without the tools.

    Needs Debian's ``abc2midi`` (package abcmidi) and ``timidity``; returns None if either is missing,
    so a page can show the ABC text instead. Only the first ``max_bars`` bars are played, repeats
    unrolled away, to keep clips short; WAV output is also cut at ``max_seconds``.
    Raises RuntimeError, with the tool's message, if the text cannot be rendered.

    Taught in "Lab: generating music" (book/part2/music_lab.md).
    """
    if format not in ("ogg", "wav"):
        raise ValueError(f"abc_to_audio: format must be 'ogg' or 'wav', got {format!r}")
    if not isinstance(abc_text, str) or not abc_text.strip():
        raise ValueError("abc_to_audio: abc_text must be a non-empty string of ABC notation")
    abc2midi, timidity = shutil.which("abc2midi"), shutil.which("timidity")
    if abc2midi is None or timidity is None:
        return None
    text = _first_bars(abc_text, max_bars)
    if not text.startswith("X:"):
        text = "X:1\n" + text
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "tune.abc").write_text(text, encoding="utf-8")
        _run([abc2midi, "tune.abc", "-o", "tune.mid"], folder)
        if not (folder / "tune.mid").exists():
            raise RuntimeError(f"abc_to_audio: abc2midi wrote no MIDI file for this tune:\n{text}")
        output = f"tune.{format}"
        mode = "-Ov" if format == "ogg" else "-Ow"
        _run([timidity, "tune.mid", mode, "--output-mono", "-s", str(sample_rate), "-o", output], folder)
        if format == "wav":
            _truncate_wav(folder / output, max_seconds)
        return (folder / output).read_bytes()


def _run(command, folder):
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"abc_to_audio: {Path(command[0]).name} failed: {result.stderr or result.stdout}")


def _truncate_wav(path, max_seconds):
    with wave.open(str(path), "rb") as source:
        params = source.getparams()
        frames = source.readframes(min(source.getnframes(), int(max_seconds * source.getframerate())))
    with wave.open(str(path), "wb") as target:
        target.setparams(params)
        target.writeframes(frames)
