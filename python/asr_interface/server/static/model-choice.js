// The model the person chose: asked for with `load_model`, kept once `model_loaded`
// confirms it, and asked for again on every new session, since a session starts with the
// server's default.

import { modelPanel, page, setActivity } from "./page.js";

let requested = null; // sent with load_model, not yet confirmed
let chosen = null; // the last configuration the person loaded

/** Asks for a model, showing the load in the model panel. */
export function requestModel(fields) {
  requested = fields;
  modelPanel.loading(fields);
  setActivity("loading");
  page.connection.send({ type: "load_model", ...fields });
}

/**
 * Asks a new session for the person's model, in the model panel or, for a held stream
 * that resumes on its `model_loaded`, `quietly`; false when the person chose none.
 */
export function requestChosenModel({ quietly = false } = {}) {
  if (!chosen) return false;
  if (quietly) {
    requested = chosen;
    page.connection.send({ type: "load_model", ...chosen });
  } else {
    requestModel(chosen);
  }
  return true;
}

/** The server loaded the model asked for: new sessions ask for it again. */
export function modelLoaded() {
  chosen = requested;
  requested = null;
}

/** The server refused the model asked for: the one chosen before stays. */
export function modelRefused() {
  requested = null;
}
