"""The server's Prometheus metrics: what sessions and the scheduler report is what /metrics
renders, in a registry of the server's own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from asr_interface.server.metrics import ServerMetrics


def rendered(metrics: ServerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the /metrics body, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for sample in family.samples
    }


def test_reports_are_rendered_and_two_servers_count_apart() -> None:
    """Sessions, audio, model calls, commit latency and errors by code appear in the
    rendered text; a second server's metrics start from zero."""
    metrics = ServerMetrics()
    metrics.session_opened()
    metrics.session_opened()
    metrics.session_closed()
    metrics.audio_received(1.5)
    metrics.model_call(0.2)
    metrics.commit_latency(0.7)
    metrics.error("backlog_full")
    metrics.error("backlog_full")
    samples = rendered(metrics)
    assert samples[("asr_sessions_active", ())] == 1
    assert samples[("asr_sessions_total", ())] == 2
    assert samples[("asr_audio_seconds_total", ())] == 1.5
    assert samples[("asr_model_call_seconds_count", ())] == 1
    assert samples[("asr_commit_latency_seconds_sum", ())] == 0.7
    assert samples[("asr_errors_total", (("code", "backlog_full"),))] == 2
    assert rendered(ServerMetrics())[("asr_sessions_total", ())] == 0
