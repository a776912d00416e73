"""The protocol rules of one session, driven by method calls alone: no socket, no model."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from asr_interface.core.config import ASRConfig
from asr_interface.protocol import (
    Commit,
    Done,
    ErrorCode,
    ModelLoaded,
    Ready,
    ResetDone,
)
from asr_interface.server.metrics import ServerMetrics
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Phase, Session
from asr_interface.server.session_types import (
    CLOSE_GOING_AWAY,
    CLOSE_NORMAL,
    Action,
    Close,
    LoadConfig,
    ResetStream,
    RunStep,
    Send,
    SessionLimits,
)
from tests.bad_inputs import BAD_MESSAGES
from tests.encoded_audio import encode_speech
from tests.server.asr_session import (
    MAX_FRAME_BYTES,
    RATE,
    error_codes,
    new_session,
    only_step,
    pcm16,
    result,
    sent,
    streaming,
    text,
)
from tests.speech import JFK, speech_audio


def test_connected_announces_the_session_and_its_config(session: Session) -> None:
    """The first message names the session and the configuration it runs."""
    (ready,) = sent(session.connected())
    assert isinstance(ready, Ready)
    assert ready.session == "s1"
    assert ready.config == ASRConfig(min_chunk_size=1.0).model_dump()


@pytest.mark.parametrize(("message", "code"), BAD_MESSAGES)
def test_bad_message_gets_its_typed_error_and_changes_nothing(
    session: Session, metrics: ServerMetrics, message: str, code: str
) -> None:
    """A refused message yields one `error` with its code; the session goes on as before."""
    actions = session.receive_text(message, 0.0)
    assert error_codes(actions) == [code]
    assert len(actions) == 1
    assert session.phase is Phase.IDLE
    assert metrics.registry.get_sample_value("asr_errors_total", {"code": code}) == 1
    streaming(session)


@pytest.mark.parametrize(("rate", "encoding"), [(8000, "pcm_s16le"), (48000, "pcm_f32le")])
def test_formats_at_the_limits_are_accepted(session: Session, rate: int, encoding: str) -> None:
    """The lowest and highest sample rates start a stream."""
    assert session.receive_text(text("start", sample_rate=rate, encoding=encoding), 0.0) == []
    assert session.phase is Phase.STREAMING


def test_audio_without_start_streams_16_khz_pcm16(session: Session) -> None:
    """Audio in a new session starts a stream in the default format."""
    step = only_step(session.receive_bytes(pcm16(1.0, value=16384), 0.0))
    assert session.phase is Phase.STREAMING
    np.testing.assert_array_equal(step.audio, np.full(RATE, 0.5, dtype=np.float32))
    assert not step.final


def test_frame_too_large_is_dropped(session: Session) -> None:
    """A frame over the limit is refused whole and the stream goes on without it."""
    session.receive_text(text("start"), 0.0)
    assert error_codes(session.receive_bytes(b"\0" * (MAX_FRAME_BYTES + 2), 0.0)) == [
        "frame_too_large"
    ]
    actions = session.receive_bytes(b"\0" * MAX_FRAME_BYTES, 0.0)
    assert error_codes(actions) == []
    only_step(actions)
    session.receive_text(text("end"), 0.0)
    while not only_step(session.step_finished(result(), 0.0)).final:
        pass
    done = sent(session.step_finished(result(), 0.0))[-1]
    assert done.audio_seconds == MAX_FRAME_BYTES / 2 / RATE


def test_nan_frame_is_refused_and_the_next_frame_queued(session: Session) -> None:
    """A float frame holding NaN gets `invalid_audio`; the following good frame is kept."""
    session.receive_text(text("start", encoding="pcm_f32le"), 0.0)
    bad = np.full(800, 0.1, dtype="<f4")
    bad[100] = np.nan
    assert error_codes(session.receive_bytes(bad.tobytes(), 0.0)) == ["invalid_audio"]
    good = np.full(800, 0.25, dtype="<f4")
    assert session.receive_bytes(good.tobytes(), 0.0) == []
    step = only_step(session.receive_text(text("end"), 0.0))
    np.testing.assert_array_equal(step.audio, good)


def test_odd_pcm16_frames_are_joined_across_frames(session: Session) -> None:
    """A sample split between two frames is decoded once both halves arrived."""
    samples = np.arange(-500, 501, dtype="<i2")
    data = samples.tobytes()
    session.receive_text(text("start"), 0.0)
    for begin in range(0, len(data), 333):
        assert session.receive_bytes(data[begin : begin + 333], 0.0) == []
    step = only_step(session.receive_text(text("end"), 0.0))
    np.testing.assert_array_equal(step.audio, samples / np.float32(32768))


@pytest.mark.parametrize("finished", [False, True], ids=["ending", "ended"])
def test_audio_after_end_is_refused_until_start(session: Session, finished: bool) -> None:
    """After `end`, audio gets `audio_after_end`; a new `start` resets the engine and streams."""
    streaming(session)
    session.receive_text(text("end"), 0.0)  # waits for the running step
    if finished:
        session.step_finished(result(), 0.0)  # runs the final step
        assert isinstance(sent(session.step_finished(result(), 0.0))[-1], Done)
    assert error_codes(session.receive_bytes(pcm16(0.1), 0.0)) == ["audio_after_end"]
    if finished:
        assert session.receive_text(text("start"), 0.0) == [ResetStream()]
        assert session.receive_bytes(pcm16(1.0), 0.0) != []


@pytest.mark.parametrize("message", [text("start"), text("load_model", model="base.en")])
@pytest.mark.parametrize("ending", [False, True], ids=["streaming", "ending"])
def test_start_and_load_model_wait_for_the_stream(
    session: Session, message: str, ending: bool
) -> None:
    """While a stream runs or ends, `start` and `load_model` get `stream_in_progress`."""
    streaming(session)
    if ending:
        session.receive_text(text("end"), 0.0)
    assert error_codes(session.receive_text(message, 0.0)) == ["stream_in_progress"]
    assert session.phase is (Phase.ENDING if ending else Phase.STREAMING)


def test_second_end_is_refused_while_ending(session: Session) -> None:
    """`end` twice gets `stream_in_progress`; the first still finishes with one `done`."""
    streaming(session)
    session.receive_text(text("end"), 0.0)
    assert error_codes(session.receive_text(text("end"), 0.0)) == ["stream_in_progress"]
    final = only_step(session.step_finished(result(), 0.0))
    assert final.final
    assert [type(m) for m in sent(session.step_finished(result(), 0.0))] == [Done]


def test_load_model_loads_then_streams_with_the_new_config(session: Session) -> None:
    """`load_model` asks for the load; `model_loaded` brings the new config."""
    (load,) = session.receive_text(text("load_model", model="base.en", beam_size=1), 0.0)
    assert isinstance(load, LoadConfig)
    assert (load.config.model, load.config.beam_size) == ("base.en", 1)
    assert session.phase is Phase.LOADING
    (loaded,) = sent(session.model_loaded(load.config, {"model": "base.en"}, sep=""))
    assert isinstance(loaded, ModelLoaded)
    assert loaded.config["model"] == "base.en"
    assert loaded.metadata == {"model": "base.en"}
    assert (session.phase, session.sep, session.config) == (Phase.IDLE, "", load.config)


def test_messages_pipelined_behind_load_model_are_served_in_order(session: Session) -> None:
    """A client that sends `load_model`, `start`, audio and `end` without waiting gets the
    model, then its stream, in order: nothing is refused or dropped while the model loads."""
    (load,) = session.receive_text(text("load_model", model="base.en"), 0.0)
    assert isinstance(load, LoadConfig)
    assert session.receive_text(text("start"), 0.1) == []
    assert session.receive_bytes(pcm16(1.5), 0.2) == []
    assert session.receive_text(text("end"), 0.3) == []
    actions = session.model_loaded(load.config, {}, sep="")
    assert isinstance(sent(actions)[0], ModelLoaded)
    assert only_step(actions).audio.size == round(1.5 * RATE)
    assert session.phase is Phase.ENDING
    assert only_step(session.step_finished(result(), 1.0)).final
    assert [type(m) for m in sent(session.step_finished(result(), 1.1))] == [Done]


def test_messages_held_during_a_load_are_bounded(session: Session) -> None:
    """What arrives while the model loads is held up to a limit; beyond it, a message gets
    `backlog_full` and the rest are still served."""
    limits = SessionLimits(max_frame_bytes=MAX_FRAME_BYTES, max_held_bytes=RATE * 2)
    session = Session(
        "s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate, limits=limits
    )
    (load,) = session.receive_text(text("load_model", model="base.en"), 0.0)
    assert isinstance(load, LoadConfig)
    assert session.receive_bytes(pcm16(0.5), 0.0) == []
    assert error_codes(session.receive_bytes(pcm16(0.6), 0.0)) == ["backlog_full"]
    actions = session.model_loaded(load.config, {}, sep="")
    assert isinstance(sent(actions)[0], ModelLoaded)
    assert session.phase is Phase.STREAMING


def test_backlog_beyond_its_limit_gets_backlog_full(session: Session) -> None:
    """Audio waiting for the model is bounded: a frame that would pass the limit is dropped
    with `backlog_full`, and the stream goes on."""
    limits = SessionLimits(max_frame_bytes=MAX_FRAME_BYTES, max_backlog_seconds=2.0)
    session = Session(
        "s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate, limits=limits
    )
    only_step(session.receive_bytes(pcm16(1.0), 0.0))
    assert session.receive_bytes(pcm16(1.5), 0.1) == []
    assert error_codes(session.receive_bytes(pcm16(0.6), 0.2)) == ["backlog_full"]
    assert only_step(session.step_finished(result(), 0.3)).audio.size == round(1.5 * RATE)


def fail_load(session: Session) -> list[Action]:
    """Asks for another model and reports that it failed to load."""
    assert session.receive_text(text("load_model", model="base.en"), 0.0) != []
    return session.model_failed(ErrorCode.MODEL_LOAD_FAILED, "model 'base.en' failed to load")


def test_failed_load_keeps_the_session_usable(session: Session) -> None:
    """A load that fails is reported with its code and the old model goes on streaming."""
    assert error_codes(fail_load(session)) == ["model_load_failed"]
    assert session.phase is Phase.IDLE
    streaming(session)


def test_failed_load_after_a_stream_still_resets_before_the_next(session: Session) -> None:
    """A failed load between two streams does not let the second continue the first."""
    streaming(session)
    session.receive_text(text("end"), 0.0)
    only_step(session.step_finished(result(), 0.0))
    session.step_finished(result(), 0.0)
    fail_load(session)
    assert ResetStream() in session.receive_text(text("start"), 0.0)


def test_failed_load_does_not_revive_a_failed_stream(session: Session) -> None:
    """After a backend failure, a failed load leaves the stream failed: only reset helps."""
    streaming(session)
    session.step_failed("RuntimeError: boom", 0.0)
    fail_load(session)
    assert error_codes(session.receive_bytes(pcm16(0.1), 0.0)) == ["stream_failed"]


@pytest.mark.parametrize("resets", [1, 2])
@pytest.mark.parametrize("outcome", ["finished", "failed"])
def test_reset_during_a_step_discards_its_result(
    session: Session, resets: int, outcome: str
) -> None:
    """A reset while the model runs waits for it, drops what it did (words or failure),
    resets the engine, then answers each reset."""
    streaming(session)
    for _ in range(resets):
        assert session.receive_text(text("reset"), 0.0) == []
    if outcome == "finished":
        actions = session.step_finished(result([(0.0, 0.5, "lost")], [(0.5, 0.9, "gone")]), 0)
    else:
        actions = session.step_failed("RuntimeError: boom", 0.0)
    assert actions == [ResetStream(), Send(ResetDone())] * resets
    assert session.phase is Phase.IDLE


def test_stream_sent_right_after_reset_is_kept(session: Session) -> None:
    """Audio and `end` that follow a reset, before the running step returns, form a new
    stream: its audio is kept and `end` gets its `done`."""
    streaming(session)
    session.receive_text(text("reset"), 0.0)
    assert session.receive_text(text("start"), 0.0) == []
    assert session.receive_bytes(pcm16(0.5, value=16384), 0.0) == []
    assert session.receive_text(text("end"), 0.0) == []
    actions = session.step_finished(result([(0.0, 0.5, "lost")]), 0.0)
    assert actions[:2] == [ResetStream(), Send(ResetDone())]
    final = only_step(actions)
    assert final.final
    np.testing.assert_array_equal(final.audio, np.full(RATE // 2, 0.5, dtype=np.float32))
    done = sent(session.step_finished(result([(0.0, 0.4, "kept")]), 0.0))
    assert [m.text for m in done if isinstance(m, Commit)] == ["kept"]
    assert isinstance(done[-1], Done)
    assert done[-1].audio_seconds == 0.5


def test_reset_when_idle_or_ended_resets_at_once(session: Session) -> None:
    """Without a running step, `reset` resets the engine and answers at once."""
    assert session.receive_text(text("reset"), 0.0) == [ResetStream(), Send(ResetDone())]
    streaming(session)
    session.step_finished(result(), 0.0)
    assert session.receive_text(text("reset"), 0.0) == [ResetStream(), Send(ResetDone())]
    assert session.phase is Phase.IDLE


def test_end_with_nothing_streamed_is_done_at_once(session: Session) -> None:
    """`end` before any audio answers `done` without running the model."""
    actions = session.receive_text(text("end"), 0.0)
    assert actions == [Send(Done(audio_seconds=0.0, processing_seconds=0.0))]
    assert session.phase is Phase.ENDED


def test_end_of_an_empty_stream_runs_one_final_step(session: Session) -> None:
    """`start` then `end` with no audio still closes the stream through the engine."""
    session.receive_text(text("start"), 0.0)
    final = only_step(session.receive_text(text("end"), 0.0))
    assert (final.final, final.audio.size) == (True, 0)
    assert sent(session.step_finished(result(), 0.0)) == [
        Done(audio_seconds=0.0, processing_seconds=0.25)
    ]


def test_backend_failure_needs_reset(session: Session) -> None:
    """A failed step gives `backend_error`; only `reset` lets the session stream again."""
    streaming(session)
    assert session.receive_bytes(pcm16(0.5), 0.0) == []  # waits for the running step
    assert error_codes(session.step_failed("RuntimeError: boom", 0.0)) == ["backend_error"]
    assert session.phase is Phase.FAILED
    assert error_codes(session.receive_bytes(pcm16(1.0), 0.0)) == ["stream_failed"]
    for message in (text("start"), text("end")):
        assert error_codes(session.receive_text(message, 0.0)) == ["stream_failed"]
    assert session.receive_text(text("reset"), 0.0) == [ResetStream(), Send(ResetDone())]
    step = streaming(session)
    assert step.audio.size == RATE  # nothing of the failed stream is left over


def test_shutdown_mid_stream_finishes_then_closes(session: Session) -> None:
    """Shutdown ends a stream like `end`: a final step, its commits, `done`, then 1001."""
    streaming(session)
    assert session.receive_bytes(pcm16(0.5), 0.0) == []
    assert session.shutdown(0.0) == []  # a step is running
    final = only_step(session.step_finished(result(), 0.0))
    assert (final.final, final.audio.size) == (True, RATE // 2)
    actions = session.step_finished(result([(0.0, 1.2, "tail")]), 0.0)
    assert [type(a) for a in actions] == [Send, Send, Close]
    assert isinstance(sent(actions)[0], Commit)
    assert isinstance(sent(actions)[1], Done)
    assert actions[-1] == Close(CLOSE_GOING_AWAY, "server shutting down")


def test_shutdown_during_a_reset_closes_once_the_step_returns(session: Session) -> None:
    """A session reset while its step runs is closed as soon as the engine is reset."""
    streaming(session)
    session.receive_text(text("reset"), 0.0)
    assert session.shutdown(0.0) == []
    assert session.step_finished(result(), 0.0) == [
        ResetStream(),
        Send(ResetDone()),
        Close(CLOSE_GOING_AWAY, "server shutting down"),
    ]


@pytest.mark.parametrize("phase", ["idle", "failed"])
def test_shutdown_without_a_stream_closes_at_once(session: Session, phase: str) -> None:
    """A session with nothing to finish is closed with 1001 straight away."""
    if phase == "failed":
        streaming(session)
        session.step_failed("RuntimeError: boom", 0.0)
    assert session.shutdown(0.0) == [Close(CLOSE_GOING_AWAY, "server shutting down")]


def test_idle_timeout_reports_then_closes_normally(session: Session) -> None:
    """A silent client gets `idle_timeout` and a normal close."""
    actions = session.idle_timeout()
    assert error_codes(actions) == ["idle_timeout"]
    assert actions[-1] == Close(CLOSE_NORMAL, "idle timeout")


def test_no_step_until_min_chunk_and_waiting_audio_goes_into_one_step(pool: ModelPool) -> None:
    """A step starts once `min_chunk_size` seconds wait; audio arriving while the model runs
    is taken whole by the next step, not in pieces."""
    session = new_session(pool, min_chunk_size=0.5)
    assert session.receive_bytes(pcm16(0.3), 0.0) == []
    assert only_step(session.receive_bytes(pcm16(0.3), 0.0)).audio.size == round(0.6 * RATE)
    for _ in range(5):
        assert session.receive_bytes(pcm16(0.3), 0.0) == []
    assert only_step(session.step_finished(result(), 0.0)).audio.size == round(1.5 * RATE)
    assert session.receive_bytes(pcm16(0.2), 0.0) == []
    assert session.step_finished(result(), 0.0) == []  # 0.2 s waits for more
    assert only_step(session.receive_bytes(pcm16(0.3), 0.0)).audio.size == round(0.5 * RATE)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_done_reports_audio_and_model_time(session: Session, rate: int) -> None:
    """`done` counts the stream's audio in seconds, whatever its rate, and the model time
    of its steps."""
    session.receive_text(text("start", sample_rate=rate), 0.0)
    only_step(session.receive_bytes(np.zeros(2 * rate, dtype="<i2").tobytes(), 0.0))
    session.receive_text(text("end"), 0.0)
    only_step(session.step_finished(result(), 0.0))
    done = sent(session.step_finished(result(), 0.0))[-1]
    assert isinstance(done, Done)
    assert done.audio_seconds == pytest.approx(2.0, abs=0.002)
    assert done.processing_seconds == 0.5


def test_commit_latency_is_measured_from_the_arrival_of_the_words_audio(
    session: Session, metrics: ServerMetrics
) -> None:
    """The latency metric is the commit time minus when the word's last audio arrived."""
    session.receive_text(text("start"), 0.0)
    for second in range(3):
        session.receive_bytes(pcm16(1.0), float(second))
    session.step_finished(result([(0.2, 1.5, "word")]), 4.0)
    assert metrics.registry.get_sample_value("asr_commit_latency_seconds_sum") == 3.0
    assert metrics.registry.get_sample_value("asr_model_call_seconds_count") == 1
    assert metrics.registry.get_sample_value("asr_audio_seconds_total") == 3.0


@pytest.mark.parametrize(
    ("min_chunk_size", "steps"), [(1.0, [3.0, 3.0, 3.0, 1.0]), (4.0, [4, 4, 2])]
)
def test_backlog_is_taken_in_bounded_steps(
    pool: ModelPool, min_chunk_size: float, steps: list[float]
) -> None:
    """Audio sent faster than real time goes to the model a few seconds at a time (at least
    `min_chunk_size`), so its window never overflows; the final step comes after the last."""
    session = new_session(pool, min_chunk_size=min_chunk_size)
    taken = [only_step(session.receive_bytes(pcm16(5.0), 0.0))]
    assert session.receive_bytes(pcm16(5.0), 0.0) == []
    assert session.receive_text(text("end"), 0.0) == []
    while not taken[-1].final:
        taken.append(only_step(session.step_finished(result(), 0.0)))
    assert [step.audio.size / RATE for step in taken] == steps
    assert [step.final for step in taken] == [False] * (len(steps) - 1) + [True]
    assert sent(session.step_finished(result(), 0.0))[-1].audio_seconds == 10.0


def live_stream(
    session: Session, seconds: float, model_seconds: float, frame: float = 0.1
) -> list[RunStep]:
    """Streams `seconds` of audio in frames arriving at the pace of speech, each step taking
    `model_seconds`; returns the steps in order."""
    arrivals = [round((k + 1) * frame, 6) for k in range(round(seconds / frame))]
    session.receive_text(text("start"), 0.0)
    taken: list[RunStep] = []
    busy_until: float | None = None
    while arrivals or busy_until is not None:
        if busy_until is not None and (not arrivals or busy_until <= arrivals[0]):
            now, busy_until = busy_until, None
            actions = session.step_finished(result(), now)
        else:
            now = arrivals.pop(0)
            actions = session.receive_bytes(pcm16(frame), now)
        for action in actions:
            if isinstance(action, RunStep):
                taken.append(action)
                busy_until = now + model_seconds
    return taken


def step_seconds(taken: list[RunStep]) -> list[float]:
    return [round(step.audio.size / RATE, 3) for step in taken]


def test_stream_the_model_keeps_up_with_takes_what_arrived(pool: ModelPool) -> None:
    """With a model faster than speech, each step takes the audio that arrived since the
    last, and the lag stays at about one chunk."""
    taken = live_stream(new_session(pool), seconds=30.0, model_seconds=0.6)
    assert all(1.0 <= seconds <= 1.2 for seconds in step_seconds(taken))
    assert max(step.lag for step in taken) <= 1.2


def test_lagging_stream_takes_longer_steps_and_stops_falling_behind(pool: ModelPool) -> None:
    """A model that needs 4 s per call, whatever the audio, would fall further behind
    with 3 s steps; the stream takes its whole lag in each step instead and keeps up."""
    taken = live_stream(new_session(pool), seconds=60.0, model_seconds=4.0)
    steady = taken[2:-1]  # after the first steps, before the stream's audio runs out
    assert len(steady) >= 10
    assert all(3.9 <= seconds <= 4.1 for seconds in step_seconds(steady))
    assert max(step.lag for step in taken) <= 4.1


@pytest.mark.parametrize(("trimming", "longest"), [(15.0, 15.0), (20.0, 10.0), (28.0, 3.0)])
def test_lagging_steps_leave_room_in_the_window(
    pool: ModelPool, trimming: float, longest: float
) -> None:
    """However far a stream lags, a step adds at most what the 30 s window holds beyond
    its trimmed part (and never less than the usual 3 s)."""
    session = Session(
        "s1",
        ASRConfig(buffer_trimming_sec=trimming),
        sep=" ",
        validate_config=pool.validate,
        limits=SessionLimits(max_frame_bytes=MAX_FRAME_BYTES),
    )
    taken = live_stream(session, seconds=120.0, model_seconds=25.0, frame=0.5)
    assert max(step_seconds(taken)) == longest
    assert max(step.lag for step in taken) > longest  # the model cannot keep up, the window can


def test_compressed_audio_comes_in_through_audio_ready() -> None:
    """A compressed frame is decoded off the caller's thread: `wake` says when samples are
    ready and `audio_ready` queues them; after `end` the final step waits for the decoder's
    last samples, so `done` counts every second of the stream."""
    woken = threading.Event()
    session = Session(
        "s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate, wake=woken.set
    )
    assert session.receive_text(text("start", encoding="auto"), 0.0) == []
    actions = session.receive_bytes(encode_speech(speech_audio(JFK), "wav"), 0.0)
    actions += session.receive_text(text("end"), 0.0)
    now = 0.0
    while not [m for m in sent(actions) if isinstance(m, Done)]:
        now += 0.1
        if any(isinstance(action, RunStep) for action in actions):
            only_step(actions)
            actions = session.step_finished(result(), now)
        else:
            assert woken.wait(10), "the decoder did not wake the session"
            woken.clear()
            actions = session.audio_ready(now)
    (done,) = [m for m in sent(actions) if isinstance(m, Done)]
    assert done.audio_seconds == pytest.approx(11.0, abs=0.05)


def test_a_compressed_stream_found_broken_at_its_end_still_gets_done() -> None:
    """Bytes too few to be recognised fail only when `end` closes the input: the failure
    comes through `audio_ready` during the ending, and the stream still ends with `done`."""
    woken = threading.Event()
    session = Session(
        "s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate, wake=woken.set
    )
    session.receive_text(text("start", encoding="auto"), 0.0)
    assert session.receive_bytes(bytes(range(256)) * 16, 0.0) == []
    assert session.receive_text(text("end"), 0.1) == []
    assert session.has_pending_work
    actions: list[Action] = []
    while not error_codes(actions):
        assert woken.wait(10), "the decoder did not wake the session"
        woken.clear()
        actions = session.audio_ready(0.2)
    assert error_codes(actions) == ["invalid_audio"]
    assert only_step(actions).final
    (done,) = sent(session.step_finished(result(), 0.3))
    assert isinstance(done, Done)
    assert done.audio_seconds == 0.0


def test_closing_mid_stream_ends_the_decoding_thread_at_once() -> None:
    """A session closed (its connection gone) in the middle of a compressed stream ends its
    decoding thread at once, with the bytes still waiting for it, though the session
    object itself lives on."""
    session = Session("s", ASRConfig(), sep=" ", validate_config=ASRConfig.model_validate)
    session.receive_text(text("start", encoding="auto"), 0.0)
    data = encode_speech(speech_audio(JFK), "ogg_opus")
    before = set(threading.enumerate())
    session.receive_bytes(data[: len(data) // 2], 0.0)
    (thread,) = set(threading.enumerate()) - before
    session.close()
    thread.join(1.0)
    assert not thread.is_alive()
    assert not session.has_pending_work
