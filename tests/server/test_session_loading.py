"""Messages sent while a session's model loads: held, then answered in the order they came,
by method calls alone (no socket, no model)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from asr_interface.core.config import ASRConfig
from asr_interface.server.models import ModelPool
from asr_interface.server.session import Phase, Session
from asr_interface.server.session_types import CLOSE_GOING_AWAY, Close, SessionLimits
from tests.server.asr_session import new_session, pcm16, text
from tests.server.session_driver import FAILING_BEAM, Driver

LOAD = text("load_model", model="base.en")
LOAD_AGAIN = text("load_model", model="tiny.en", beam_size=2)
FAILING_LOAD = text("load_model", model="base.en", beam_size=FAILING_BEAM)
BURST = [text("start"), pcm16(1.5), text("end"), LOAD_AGAIN, text("reset")]
"""A stream, another model and a reset, sent without waiting for any answer."""


def burst_during_a_load(pool: ModelPool, load: str, burst: list[str | bytes]) -> Driver:
    """Sends `load`, then `burst` while it loads, then lets everything finish."""
    driver = Driver(new_session(pool))
    driver.send(load)
    assert driver.session.phase is Phase.LOADING
    for frame in burst:
        driver.send(frame)
    assert driver.answers == []  # all held
    driver.drain()
    assert not driver.session.has_pending_work
    return driver


def test_a_burst_during_a_load_is_answered_in_order(pool: ModelPool) -> None:
    """`start`, audio, `end`, `load_model` and `reset` sent while a model loads: the model,
    the stream's `done` on it, the second model, then `reset_done`, each in its turn."""
    driver = burst_during_a_load(pool, LOAD, BURST)
    assert driver.answers == [
        "model_loaded base.en",
        "done 1.5",
        "model_loaded tiny.en",
        "reset_done",
    ]
    assert driver.session.config.model == "tiny.en"


def test_held_messages_wait_for_each_answer(pool: ModelPool) -> None:
    """After the load, the held `load_model` is not served before the held `end` has its
    `done`, and the held `reset` not before that load is over."""
    driver = Driver(new_session(pool))
    driver.send(LOAD)
    for frame in BURST:
        driver.send(frame)
    driver.work()  # the load: the stream starts, its end waits for the model
    assert driver.answers == ["model_loaded base.en"]
    assert driver.session.phase is Phase.ENDING
    while driver.session.phase is Phase.ENDING:
        assert driver.work()
    assert driver.answers[1:] == ["done 1.5"]
    assert driver.session.phase is Phase.LOADING  # the held reset still waits
    assert driver.session.has_pending_work
    driver.drain()
    assert driver.answers[2:] == ["model_loaded tiny.en", "reset_done"]


def test_a_failed_load_serves_the_burst_under_the_old_model(pool: ModelPool) -> None:
    """A load that fails answers with its error; what was held behind it is then served,
    in order, as if sent after that error: the stream runs on the old model."""
    driver = burst_during_a_load(pool, FAILING_LOAD, BURST)
    assert driver.answers == [
        "error model_load_failed",
        "done 1.5",
        "model_loaded tiny.en",
        "reset_done",
    ]


def test_a_failing_load_held_in_the_burst_keeps_its_place(pool: ModelPool) -> None:
    """A held `load_model` that fails is answered in its turn and the held messages after
    it go on under the model before it."""
    burst = [FAILING_LOAD, text("start"), pcm16(1.5), text("end"), text("reset")]
    driver = burst_during_a_load(pool, LOAD, burst)
    assert driver.answers == [
        "model_loaded base.en",
        "error model_load_failed",
        "done 1.5",
        "reset_done",
    ]
    assert (driver.session.config.model, driver.session.config.beam_size) == ("base.en", 1)


def test_refusals_of_held_messages_come_in_their_turn(pool: ModelPool) -> None:
    """A frame that does not parse and messages the phase forbids are refused in the order
    they came, between the answers of their neighbours."""
    burst: list[str | bytes] = [
        text("start"),
        pcm16(1.5),
        text("end"),
        "{",
        pcm16(0.2),
        text("end"),
        text("reset"),
        text("start", encoding="mp3"),
    ]
    driver = burst_during_a_load(pool, LOAD, burst)
    assert driver.answers == [
        "model_loaded base.en",
        "done 1.5",
        "error invalid_json",
        "error audio_after_end",
        "done 1.5",
        "reset_done",
        "error unsupported_encoding",
    ]


def test_messages_after_the_load_wait_behind_held_ones(pool: ModelPool) -> None:
    """A message that arrives once the model is loaded, while held messages still wait for
    their answers, is held behind them rather than answered first."""
    driver = Driver(new_session(pool))
    driver.send(LOAD)
    for frame in (text("start"), pcm16(1.5), text("end"), text("reset")):
        driver.send(frame)
    driver.work()
    assert driver.session.phase is Phase.ENDING
    driver.send(text("end"))  # not "already ending": it comes after the held reset
    assert driver.answers == ["model_loaded base.en"]
    driver.drain()
    assert driver.answers[1:] == ["done 1.5", "reset_done", "done 0"]


def test_a_reset_held_behind_a_running_step_waits_for_it(pool: ModelPool) -> None:
    """A held `reset` served while a held stream's step runs is answered once the step
    returns, and what was held after it is served only then."""
    driver = Driver(new_session(pool))
    driver.send(LOAD)
    for frame in (pcm16(1.5), text("reset"), text("end")):
        driver.send(frame)
    driver.work()  # the load; the audio starts a step, the reset waits for it
    assert driver.answers == ["model_loaded base.en"]
    driver.drain()
    assert driver.answers[1:] == ["reset_done", "done 0"]


def test_messages_held_behind_the_load_count_against_the_same_bound(pool: ModelPool) -> None:
    """The messages held behind held ones after the load share the bound of those held
    during it; one past it gets `backlog_full` at once, and the rest keep their order."""
    session = Session(
        "s",
        ASRConfig(),
        sep=" ",
        validate_config=pool.validate,
        limits=SessionLimits(max_held_events=4),
    )
    driver = Driver(session)
    driver.send(LOAD)
    for frame in (text("start"), pcm16(1.5), text("end"), text("reset")):
        driver.send(frame)
    driver.work()  # loaded; the reset waits for the stream's `done`
    for _ in range(4):
        driver.send(text("end"))
    assert driver.answers == ["model_loaded base.en", "error backlog_full"]
    driver.drain()
    assert driver.answers[2:] == ["done 1.5", "reset_done", "done 0", "done 0", "done 0"]


def test_messages_after_a_reset_waiting_for_a_step_come_after_its_answer(
    pool: ModelPool,
) -> None:
    """A reset while a step runs holds what follows it as a load does: `end` and
    `load_model` sent right after it are answered after `reset_done`, not before."""
    driver = Driver(new_session(pool))
    driver.send(text("start"))
    driver.send(pcm16(1.5))
    assert driver.pending  # a step runs
    for frame in (text("reset"), text("end"), LOAD):
        driver.send(frame)
    assert driver.answers == []
    assert driver.session.holding
    driver.drain()
    assert driver.answers == ["reset_done", "done 0", "model_loaded base.en"]


def test_shutdown_during_a_load_serves_nothing_held(pool: ModelPool) -> None:
    """A server stopping while a model loads closes the session at once; the messages held
    are not served after the close."""
    driver = Driver(new_session(pool))
    driver.send(LOAD)
    driver.send(text("start"))
    driver.send(pcm16(1.5))
    driver.apply(driver.session.shutdown(driver.now))
    assert driver.closed == [Close(CLOSE_GOING_AWAY, "server shutting down")]
    driver.drain()
    assert driver.answers == ["model_loaded base.en"]


MESSAGES: dict[str, str | bytes] = {
    "start": text("start"),
    "start mp3": text("start", encoding="mp3"),
    "audio 0.3 s": pcm16(0.3),
    "audio 0.7 s": pcm16(0.7),
    "no audio": b"",
    "end": text("end"),
    "reset": text("reset"),
    "load": LOAD,
    "load again": LOAD_AGAIN,
    "failing load": FAILING_LOAD,
    "load not allowed": text("load_model", model="large-v3"),
    "not json": "{",
}
"""Messages of every kind and outcome, by name: each may be answered, refused or ignored."""

WORK = "work"
"""In a script: let the oldest pending step or load finish."""

ANSWERED = {"end", "reset", "load", "load again", "failing load", "load not allowed", "not json"}
"""The messages that always get exactly one answer; the others get at most one."""


@given(
    first=st.sampled_from(["load", "failing load"]),
    script=st.lists(st.sampled_from([*MESSAGES, WORK]), max_size=40),
)
def test_held_messages_get_the_answers_of_a_client_that_waits(
    pool: ModelPool, first: str, script: list[str]
) -> None:
    """Whatever a client sends while the session holds its input (a model loads, a reset
    waits for a step, earlier messages wait), and whenever loads and steps finish
    meanwhile, it gets the answers a client sending each message only after the answer to
    the one before would get: one per message that has one, none lost, in the order of the
    messages."""
    bursting = Driver(new_session(pool))
    bursting.send(MESSAGES[first])
    for item in script:
        if item == WORK:
            bursting.work()
            continue
        if not bursting.session.holding:
            bursting.drain()  # outside a load, this client waits too
        bursting.send(MESSAGES[item])
    bursting.drain()
    assert not bursting.session.holding  # nothing is left unserved

    waiting = Driver(new_session(pool))
    for name in [first, *(item for item in script if item != WORK)]:
        before = len(waiting.answers)
        waiting.send(MESSAGES[name])
        waiting.drain()
        count = len(waiting.answers) - before
        assert count == 1 if name in ANSWERED else count <= 1, name
    assert bursting.answers == waiting.answers
