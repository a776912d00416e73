// What the page does as its connection comes and goes: the connection line (with the
// reason for a loss and a countdown to the next attempt), the server's offer of models,
// and the stream and model a new session takes up.

import { CONNECTION_ERRORS, explainClose, explainError } from "./errors.js";
import { holdStream, isHeld, resumeStream } from "./held-stream.js";
import { requestChosenModel } from "./model-choice.js";
import { $, interruptStream, modelPanel, page, setActivity } from "./page.js";

// The page needs no token itself; a server that wants one gets the page's own: from
// #token=… at the end of its address (a fragment never leaves the browser, so no server or
// proxy logs it), or from ?token=….
const token = new URLSearchParams(location.hash.slice(1)).get("token")
  ?? new URLSearchParams(location.search).get("token");

// A page cannot set headers on a WebSocket: it offers the token as a subprotocol, which
// the server answers with. A token a subprotocol cannot carry (only letters, digits and
// !#$%&'*+-.^_`|~ can) goes in the address, the one place left.
const TOKEN_SUBPROTOCOL = "openai-insecure-api-key.";
const SUBPROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

let countdown = null;

/** Where the page's session opens: the page's server's /asr, and the subprotocols that
 * carry the page's token. */
export function socketAddress() {
  const url = new URL("/asr", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (!token) return { url: url.href, protocols: [] };
  if (SUBPROTOCOL.test(token)) return { url: url.href, protocols: [TOKEN_SUBPROTOCOL + token] };
  url.searchParams.set("token", token);
  return { url: url.href, protocols: [] };
}

function authorized() {
  return token ? { headers: { Authorization: `Bearer ${token}` } } : {};
}

/** Takes the connection's `onState` (connection.js). */
export function handleState(state) {
  clearInterval(countdown);
  $("reconnect").hidden = state.name !== "closed";
  if (state.name === "connecting") {
    setConnection("connecting", state.attempt ? "Reconnecting…" : "Connecting…");
  } else if (state.name === "ready") {
    page.connected = true;
    setConnection("ready", `Connected to ${location.host}.`);
    // The session id lets a person match the page to the server's log lines.
    $("connection").dataset.session = state.session;
    $("connection").title = `Session ${state.session}`;
    loadOffer();
    if (isHeld()) resumeStream();
    else if (!requestChosenModel()) setActivity("idle");
  } else if (state.name === "closed") {
    page.connected = false;
    if (!holdStream()) interruptStream();
    if (state.lastError?.code === "idle_timeout") {
      // The server closes quiet sessions; a person opening the page again expects it to work.
      setConnection("connecting", "Reconnecting after a long pause…");
      return;
    }
    const why = state.lastError && CONNECTION_ERRORS.has(state.lastError.code)
      ? explainError(state.lastError.code)
      : explainClose(state.code, state.reason);
    showClosed(why, state.delay);
    if (!state.opened) diagnose(state.delay);
  }
}

function setConnection(name, text) {
  const line = $("connection");
  line.dataset.state = name;
  line.textContent = text;
}

function showClosed(why, delay) {
  const retryAt = Date.now() + delay;
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    setConnection("closed", `Disconnected: ${why} Reconnecting in ${seconds} s…`);
  };
  tick();
  countdown = setInterval(tick, 1000);
}

/** A socket that never opened: find out whether the server is down or wants a token. */
async function diagnose(delay) {
  let why = "The server cannot be reached.";
  try {
    const answer = await fetch("/backends", authorized());
    if (answer.status === 401) {
      why = token
        ? "The server refused the access token in this page's address."
        : "The server needs an access token: open this page with #token=… at the end of its address.";
    } else {
      why = "The server is up but refused the connection.";
    }
  } catch {
    // Not reachable at all: the first explanation stands.
  }
  if (!page.connected && $("connection").dataset.state === "closed") {
    clearInterval(countdown);
    showClosed(why, delay);
  }
}

async function loadOffer() {
  try {
    const answer = await fetch("/backends", authorized());
    if (answer.ok) modelPanel.setOffer(await answer.json());
  } catch {
    // The next successful connection asks again.
  }
}
