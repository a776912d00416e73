// Every error code of the protocol (asr_interface.protocol.ErrorCode) in words a person
// can act on. The server's own message is shown beside it for the details.

const EXPLANATIONS = {
  invalid_json: "The page sent the server something it could not read. Reloading the page may help.",
  unknown_type: "The page sent a request this server does not know. The page and server versions may differ.",
  invalid_message: "The server refused a request from the page as malformed.",
  invalid_config: "The server refused these model settings; the details say which value is wrong.",
  unknown_backend: "The server has no backend of that name.",
  model_not_allowed: "This server does not allow that model.",
  model_load_failed: "The model could not be loaded on the server.",
  unsupported_encoding: "The server does not accept this audio format.",
  unsupported_sample_rate: "The server does not accept this audio sample rate.",
  frame_too_large: "A piece of audio was too large for the server and was skipped.",
  backlog_full: "The server has too much of this recording waiting and skipped a piece of audio.",
  invalid_audio: "A piece of audio was damaged and was skipped.",
  audio_after_end: "Audio arrived after the recording had ended and was ignored.",
  stream_in_progress: "A recording is already in progress. Stop it first.",
  stream_failed: "The recording failed on the server. Start a new one.",
  backend_error: "The speech model failed on this recording. Start a new one.",
  too_many_sessions: "The server is busy with too many users. The page will try again shortly.",
  overloaded: "The server is too busy to keep up with another recording. The page will try again shortly.",
  idle_timeout: "The connection was closed after a long pause. The page reconnects on its own.",
  shutting_down: "The server is shutting down. The page reconnects when it is back.",
  session_expired: "The connection reached its time limit; the recording so far was finished. The page reconnects on its own.",
  slow_reader: "The page did not keep up with the server's replies, so the server closed the connection.",
  // The HTTP routes' own codes.
  unauthorized: "The server asks for an access token that this request did not carry.",
  request_too_large: "The request was larger than the server accepts.",
  // The Realtime endpoint's own codes: a page speaking it gets the same care.
  unsupported_feature: "The server cannot do what these settings ask; the details say which one.",
  empty_commit: "There was no new audio to transcribe yet.",
  buffer_full: "The server has too much of this recording waiting and skipped a piece of audio.",
};

// A compressed stream (`encoding: "auto"`, the microphone where the browser lacks
// AudioWorklet) ends where its bytes do not decode or its decoded audio passes the backlog
// (its commits and `done` follow), where a PCM stream only loses that frame. Where the
// server only dropped a piece of it for its backlog, the page ends it (server-messages.js).
const COMPRESSED_EXPLANATIONS = {
  backlog_full: "The server had more of this recording waiting than it holds, so the recording ended there.",
  invalid_audio: "The server could not decode this recording's audio, so the recording ended there.",
};

/**
 * A sentence for an `error` message's code, about a `compressed` stream's audio if the
 * error concerns one; unknown codes still get a readable sentence.
 */
export function explainError(code, { compressed = false } = {}) {
  const explanation = (compressed && COMPRESSED_EXPLANATIONS[code]) || EXPLANATIONS[code];
  return explanation ?? `The server reported a problem (${code}).`;
}

/** Errors that concern the connection, not what the person did: they need no dismissing. */
export const CONNECTION_ERRORS = new Set([
  "too_many_sessions",
  "overloaded",
  "idle_timeout",
  "shutting_down",
  "session_expired",
]);

/** Why a WebSocket closed, from its close code (RFC 6455 section 7.4). */
export function explainClose(code, reason) {
  switch (code) {
    case 1000:
      return reason ? `The server closed the connection (${reason}).` : "The server closed the connection.";
    case 1001:
      return "The server is restarting or shutting down.";
    case 1006:
      return "The server cannot be reached.";
    case 1011:
      return "The server hit an internal error.";
    case 1013:
      return "The server is busy.";
    default:
      return reason ? `The connection closed (${reason}).` : `The connection closed (code ${code}).`;
  }
}
