"""Temperature and top-k sampling, the bundled Irish tunes, and ABC-to-audio rendering."""

import io
import os
import sys
import wave

import numpy as np
import pytest

import minidl
from minidl.data import music
from minidl.sampling import sample

LOGITS = [1.0, 3.0, 0.5, 2.5]


def test_a_tiny_temperature_gives_the_argmax():
    draws = sample(minidl.tensor([LOGITS] * 200), temperature=1e-6)
    assert draws.shape == (200,) and set(draws.tolist()) == {1}


def test_top_k_one_gives_the_argmax():
    assert set(sample(minidl.tensor([LOGITS] * 200), temperature=5.0, top_k=1).tolist()) == {1}


def test_one_row_of_logits_gives_a_scalar_index():
    token = sample(minidl.tensor(LOGITS))
    assert token.shape == () and token.dtype == np.int64


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_draws_follow_the_tempered_softmax(temperature):
    draws = sample(minidl.tensor([LOGITS] * 20000), temperature=temperature).cpu().numpy()
    expected = np.exp(np.array(LOGITS) / temperature)
    expected /= expected.sum()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 20000, expected, atol=0.015)


def test_top_k_renormalizes_over_the_k_likeliest():
    draws = sample(minidl.tensor([LOGITS] * 20000), top_k=2).cpu().numpy()
    counts = np.bincount(draws, minlength=4) / 20000
    assert counts[0] == 0 and counts[2] == 0
    assert counts[1] == pytest.approx(1 / (1 + np.exp(-0.5)), abs=0.015)


def test_sampling_is_reproducible_with_the_library_seed():
    minidl.manual_seed(3)
    first = sample(minidl.tensor([LOGITS] * 50)).tolist()
    minidl.manual_seed(3)
    assert sample(minidl.tensor([LOGITS] * 50)).tolist() == first


def test_sampling_accepts_a_numpy_generator():
    first = sample(minidl.tensor([LOGITS] * 50), generator=np.random.default_rng(7)).tolist()
    assert sample(minidl.tensor([LOGITS] * 50), generator=np.random.default_rng(7)).tolist() == first


@pytest.mark.parametrize("temperature", [0, -1.0])
def test_non_positive_temperature_is_refused(temperature):
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample(minidl.tensor(LOGITS), temperature=temperature)


@pytest.mark.parametrize("top_k", [0, 5, 2.5, True])
def test_bad_top_k_is_refused(top_k):
    with pytest.raises(ValueError, match=r"top_k must be an integer in \[1, 4\]"):
        sample(minidl.tensor(LOGITS), top_k=top_k)


def test_bad_logit_shapes_are_refused():
    with pytest.raises(ValueError, match=r"\(V,\) or \(N, V\)"):
        sample(minidl.zeros(2, 3, 4))


# ---- the Irish tunes ------------------------------------------------------------------------------
def test_every_tune_of_the_file_is_loaded_once():
    songs = minidl.data.load_irish_songs()
    text = (music.importlib.resources.files("minidl.data") / "files/irish.abc").read_text()
    assert len(songs) == text.count("\nX:") + text.startswith("X:") == 804


def test_each_tune_starts_with_its_index_line_and_has_a_key():
    songs = minidl.data.load_irish_songs()
    assert all(song.startswith("X:") for song in songs)
    assert all("\nK:" in song for song in songs)
    assert all("\n\n" not in song for song in songs)


def test_the_licence_ships_with_the_tunes():
    licence = (music.importlib.resources.files("minidl.data") / "files/irish.abc.LICENSE.md").read_text()
    assert "MIT License" in licence


def test_first_bars_keep_the_header_and_drop_repeats():
    tune = "X:1\nT:Test\nM:C|\nL:1/8\nK:D Major\n|:ABcd efga|bagf edcB:|!\nABcd efga|bagf edcB|"
    short = music._first_bars(tune, 3)
    assert short.startswith("X:1\nT:Test\nM:C|\nL:1/8\nK:D Major\n")
    assert ":" not in short.splitlines()[-1] and short.splitlines()[-1].count("|") == 3


# ---- ABC to audio --------------------------------------------------------------------------------
# Stand-ins for the Debian tools, put alone on the PATH. Each behaves as the real one does: abc2midi
# exits 0 even on bad ABC but then writes no MIDI file and prints "Error in line-char ..."; timidity
# installed without recommends has no soundfont for its config and exits 1 on every file.
FAKE_TOOLS = {
    "abc2midi": """
source, output = sys.argv[1], sys.argv[sys.argv.index("-o") + 1]
if "\\nK:" not in open(source).read():
    print("Error in line-char 2-0 : No valid K: field found at start of tune", file=sys.stderr)
else:
    open(output, "wb").write(b"MThd fake midi")
""",
    "timidity": """
open(sys.argv[sys.argv.index("-o") + 1], "wb").write(b"OggS fake vorbis")
""",
    "timidity-without-soundfont": """
for _ in range(2):
    print("/etc/timidity/fluidr3_gm.cfg: No such file or directory", file=sys.stderr)
print("timidity: Error reading configuration file.", file=sys.stderr)
print("Please check /etc/timidity/timidity.cfg", file=sys.stderr)
sys.exit(1)
""",
}


@pytest.fixture
def tools_on_path(tmp_path, monkeypatch):
    """Put the named fakes (and nothing else) on the PATH: tools_on_path("abc2midi", "timidity-...")."""
    def install(*names):
        for name in names:
            script = tmp_path / name.split("-")[0]
            script.write_text(f"#!{sys.executable}\nimport sys\n{FAKE_TOOLS[name]}")
            script.chmod(0o755)
        monkeypatch.setenv("PATH", str(tmp_path))
    return install


@pytest.mark.parametrize("tools, reason", [
    ((), "abc2midi and timidity are not installed (Debian packages abcmidi and timidity)"),
    (("abc2midi",), "timidity is not installed (Debian package timidity)"),
    (("timidity",), "abc2midi is not installed (Debian package abcmidi)"),
    (("timidity-without-soundfont",), "abc2midi is not installed (Debian package abcmidi)"),
    (("abc2midi", "timidity-without-soundfont"),
     "timidity is installed but fails on a known-good tune (exit code 1: /etc/timidity/fluidr3_gm.cfg: No such "
     "file or directory); install a General MIDI soundfont for it (Debian package fluid-soundfont-gm)"),
])
def test_unusable_tools_give_no_audio_and_say_why(tools_on_path, tools, reason):
    tools_on_path(*tools)
    assert minidl.data.no_audio_reason() == reason
    assert minidl.data.abc_to_audio(minidl.data.load_irish_songs()[0]) is None


def test_working_tools_give_audio_and_no_reason(tools_on_path):
    tools_on_path("abc2midi", "timidity")
    assert minidl.data.no_audio_reason() is None
    assert minidl.data.abc_to_audio(minidl.data.load_irish_songs()[0]) == b"OggS fake vorbis"


def test_bad_abc_raises_when_the_tools_work(tools_on_path):
    tools_on_path("abc2midi", "timidity")
    with pytest.raises(RuntimeError, match="abc2midi cannot render this tune: wrote no tune.mid: Error in line-char"):
        minidl.data.abc_to_audio("X:1\nT:No key\nCDEF|")


@pytest.mark.parametrize("format, abc_text, match", [
    ("mp3", "X:1\nK:C\nCDEF|", "'ogg' or 'wav', got 'mp3'"),
    ("ogg", "  \n", "non-empty string"),
    ("ogg", None, "non-empty string"),
])
def test_audio_helper_refuses_bad_arguments(format, abc_text, match):
    with pytest.raises(ValueError, match=match):
        minidl.data.abc_to_audio(abc_text, format=format)


# The real tools. .ci/run installs them (with the soundfont), so in CI an unusable setup fails, not skips.
NO_AUDIO = music.no_audio_reason()
needs_tools = pytest.mark.skipif(NO_AUDIO is not None and not os.environ.get("CI"), reason=f"no audio: {NO_AUDIO}")


@needs_tools
def test_this_machine_renders_audio():
    assert NO_AUDIO is None


@needs_tools
def test_audio_helper_renders_ogg_vorbis():
    audio = minidl.data.abc_to_audio(minidl.data.load_irish_songs()[0], max_bars=4)
    assert audio[:4] == b"OggS" and b"vorbis" in audio[:100]


@needs_tools
def test_audio_helper_renders_short_mono_16khz_wav():
    audio = minidl.data.abc_to_audio(minidl.data.load_irish_songs()[0], format="wav", max_seconds=3.0)
    with wave.open(io.BytesIO(audio)) as clip:
        assert clip.getnchannels() == 1 and clip.getframerate() == 16000
        assert 0 < clip.getnframes() <= 3 * 16000


@needs_tools
def test_real_abc2midi_rejects_a_tune_without_a_key():
    with pytest.raises(RuntimeError, match="abc2midi cannot render this tune: .*Error in line-char"):
        minidl.data.abc_to_audio("X:1\nT:No key\nCDEF|")
