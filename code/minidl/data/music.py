"""Irish folk tunes in ABC notation, shipped with the package, and a helper that plays ABC text as audio.

The tunes are those of the music-generation lab of MIT Introduction to Deep Learning (MIT licence, see
``files/irish.abc.LICENSE.md``). Taught in "Lab: generating music" (``book/part2/music_lab.md``).
"""

import importlib.resources
import io
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


# Debian packages that provide each tool, and the one that gives timidity's default config its instruments.
_PACKAGES = {"abc2midi": "abcmidi", "timidity": "timidity"}
_SOUNDFONT_PACKAGE = "fluid-soundfont-gm"
# A tune every working abc2midi and timidity render: a failure on it is the machine's, not the input's.
_KNOWN_GOOD = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:C\nCDEF GABc|\n"


class _ToolFailed(Exception):
    """abc2midi or timidity exited with an error or wrote no file; ``tool`` names it, ``message`` quotes it."""

    def __init__(self, tool, message):
        super().__init__(f"{tool}: {message}")
        self.tool, self.message = tool, message


def no_audio_reason():
    """Why this machine cannot render ABC to audio, naming the Debian package to install; None if it can.

    Audio needs ``abc2midi`` (Debian package abcmidi) and ``timidity`` on the PATH, and a timidity that
    works: ``timidity`` installed without recommends lacks the General MIDI soundfont its config names
    (package fluid-soundfont-gm) and fails on every file. So the check renders a short known-good tune.
    Returns a str such as ``"timidity is not installed (Debian package timidity)"``, or None.

    Taught in "Lab: generating music" (book/part2/music_lab.md).
    """
    missing = [tool for tool in _PACKAGES if shutil.which(tool) is None]
    if missing:
        packages = " and ".join(_PACKAGES[tool] for tool in missing)
        verb, noun = ("is", "package") if len(missing) == 1 else ("are", "packages")
        return f"{' and '.join(missing)} {verb} not installed (Debian {noun} {packages})"
    try:
        _render(_KNOWN_GOOD, "ogg", 16000)
    except _ToolFailed as error:
        if error.tool == "timidity":
            fix = f"install a General MIDI soundfont for it (Debian package {_SOUNDFONT_PACKAGE})"
        else:
            fix = f"reinstall Debian package {_PACKAGES[error.tool]}"
        return f"{error.tool} is installed but fails on a known-good tune ({error.message}); {fix}"
    return None


def abc_to_audio(abc_text, format="ogg", sample_rate=16000, max_bars=8, max_seconds=15.0):
    """Render one ABC tune to mono audio bytes (Ogg Vorbis or WAV), or None if this machine cannot.

    Needs Debian's ``abc2midi`` (package abcmidi) and a working ``timidity`` (packages timidity and
    fluid-soundfont-gm). Returns None when a tool is missing or fails on a known-good tune too, so a page
    can show the ABC text instead; ``no_audio_reason()`` says why. Only the first ``max_bars`` bars are
    played, repeats unrolled away, to keep clips short; WAV output is also cut at ``max_seconds``.
    Raises ValueError for a bad ``format`` or empty text, and RuntimeError, quoting the tool, when the
    tools work but cannot render this text (bad ABC).

    Taught in "Lab: generating music" (book/part2/music_lab.md).
    """
    if format not in ("ogg", "wav"):
        raise ValueError(f"abc_to_audio: format must be 'ogg' or 'wav', got {format!r}")
    if not isinstance(abc_text, str) or not abc_text.strip():
        raise ValueError("abc_to_audio: abc_text must be a non-empty string of ABC notation")
    if any(shutil.which(tool) is None for tool in _PACKAGES):
        return None
    text = _first_bars(abc_text, max_bars)
    if not text.startswith("X:"):
        text = "X:1\n" + text
    try:
        audio = _render(text, format, sample_rate)
    except _ToolFailed as error:
        if no_audio_reason() is not None:  # the tools fail on a known-good tune too: the machine, not the text
            return None
        raise RuntimeError(f"abc_to_audio: {error.tool} cannot render this tune: {error.message}\n{text}") from None
    return _truncate_wav(audio, max_seconds) if format == "wav" else audio


def _render(text, format, sample_rate):
    """ABC text -> MIDI (abc2midi) -> audio bytes (timidity), in a temporary folder; raises _ToolFailed."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        (folder / "tune.abc").write_text(text, encoding="utf-8")
        _run(["abc2midi", "tune.abc", "-o", "tune.mid"], folder, "tune.mid")
        output = f"tune.{format}"
        mode = "-Ov" if format == "ogg" else "-Ow"
        _run(["timidity", "tune.mid", mode, "--output-mono", "-s", str(sample_rate), "-o", output], folder, output)
        return (folder / output).read_bytes()


def _run(command, folder, output):
    """Run one tool in ``folder``; it must exit with 0 and write ``output`` (abc2midi exits 0 on bad ABC)."""
    tool = command[0]
    try:
        result = subprocess.run([shutil.which(tool) or tool] + command[1:], cwd=folder, capture_output=True,
                                text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise _ToolFailed(tool, str(error)) from None
    lines = (result.stderr + "\n" + result.stdout).strip().splitlines()
    errors = [line for line in lines if line.startswith("Error")]  # abc2midi's "Error in line-char ..." lines
    said = "; ".join(errors) or (lines[0] if lines else "")
    if result.returncode != 0:
        raise _ToolFailed(tool, f"exit code {result.returncode}: {said}" if said else f"exit code {result.returncode}")
    if not (folder / output).is_file() or (folder / output).stat().st_size == 0:
        raise _ToolFailed(tool, f"wrote no {output}: {said}" if said else f"wrote no {output}")


def _truncate_wav(audio, max_seconds):
    """The WAV bytes ``audio`` cut after ``max_seconds``."""
    with wave.open(io.BytesIO(audio), "rb") as source:
        params = source.getparams()
        frames = source.readframes(min(source.getnframes(), int(max_seconds * source.getframerate())))
    cut = io.BytesIO()
    with wave.open(cut, "wb") as target:
        target.setparams(params)
        target.writeframes(frames)
    return cut.getvalue()
