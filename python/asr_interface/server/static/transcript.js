// The transcript of one stream: committed text split into timed lines, the partial after
// it, and the exports (TXT, SRT, WebVTT). No DOM here, so the rules are easy to check.

// A line ends with its sentence, at a pause, or once it spans MAX_LINE_SECONDS, so that
// no line on the page and no subtitle cue grows without bound when speech lacks punctuation.
const PAUSE_SECONDS = 0.8;
const MAX_LINE_SECONDS = 15;
const SENTENCE_END = /[.?!…]["'”’)\]]*$/;

export class Transcript {
  constructor() {
    this.clear();
  }

  clear() {
    /** @type {{start: number, end: number, text: string, closed: boolean}[]} */
    this.lines = [];
    this.partial = { start: null, end: null, text: "" };
    // Lines from this index on changed since the view last drew them.
    this.changedFrom = 0;
  }

  get isEmpty() {
    return this.lines.length === 0;
  }

  /** Adds a `commit` message: its words go onto lines, its text is kept exactly. */
  addCommit(commit) {
    this.changedFrom = Math.min(this.changedFrom, Math.max(0, this.lines.length - 1));
    for (const piece of pieces(commit)) this.addPiece(piece);
  }

  addPiece({ start, end, text }) {
    let line = this.lines.at(-1);
    if (!this.continuesLine(start)) {
      if (line) line.closed = true;
      line = { start, end, text: "", closed: false };
      this.lines.push(line);
    }
    line.text += text;
    line.end = end;
    if (SENTENCE_END.test(text.trimEnd())) line.closed = true;
  }

  /** Replaces the partial with a `partial` message (an empty text clears it). */
  setPartial(partial) {
    this.partial = { start: partial.start, end: partial.end, text: partial.text };
    this.changedFrom = Math.min(this.changedFrom, Math.max(0, this.lines.length - 1));
  }

  /** Whether text starting at `start` seconds goes on the last line or on a new one. */
  continuesLine(start) {
    const line = this.lines.at(-1);
    if (!line || line.closed) return false;
    return start - line.end < PAUSE_SECONDS && start - line.start < MAX_LINE_SECONDS;
  }

  /** Whether the partial continues the last line or starts a line of its own. */
  get partialContinuesLine() {
    return this.continuesLine(this.partial.start ?? Infinity);
  }

  /** The committed text, as the concatenated commits give it. */
  text() {
    return this.lines.map((line) => line.text).join("").trim();
  }
}

/** Splits a commit into one piece per word, each with its exact slice of the commit text. */
function pieces(commit) {
  const { text, words } = commit;
  if (!words || words.length === 0) {
    return [{ start: commit.start, end: commit.end, text }];
  }
  const found = [];
  let cursor = 0;
  for (const word of words) {
    const bare = word.word.trim();
    const at = bare ? text.indexOf(bare, cursor) : -1;
    if (at >= 0) {
      cursor = at + bare.length;
      found.push({ start: word.start, end: word.end, cut: cursor });
    }
  }
  if (found.length === 0) {
    return [{ start: commit.start, end: commit.end, text }];
  }
  // The text after the last word (if any) stays with it.
  found.at(-1).cut = text.length;
  let from = 0;
  return found.map(({ start, end, cut }) => {
    const piece = { start, end, text: text.slice(from, cut) };
    from = cut;
    return piece;
  });
}

/** `m:ss` or `h:mm:ss`, for the time beside each line. */
export function shortClock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

function subtitleClock(seconds, decimalMark) {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = String(Math.floor(ms / 3600000)).padStart(2, "0");
  const m = String(Math.floor(ms / 60000) % 60).padStart(2, "0");
  const s = String(Math.floor(ms / 1000) % 60).padStart(2, "0");
  return `${h}:${m}:${s}${decimalMark}${String(ms % 1000).padStart(3, "0")}`;
}

function cues(lines) {
  return lines
    .map((line) => ({ start: line.start, end: Math.max(line.end, line.start), text: line.text.trim() }))
    .filter((cue) => cue.text);
}

export function toText(lines) {
  return cues(lines).map((cue) => `${cue.text}\n`).join("");
}

export function toSrt(lines) {
  return cues(lines)
    .map(
      (cue, index) =>
        `${index + 1}\n${subtitleClock(cue.start, ",")} --> ${subtitleClock(cue.end, ",")}\n` +
        `${cue.text}\n\n`,
    )
    .join("");
}

// WebVTT cue text is markup: "&" and "<" must be escaped, and "-->" may not appear.
function vttText(text) {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll("-->", "--&gt;");
}

export function toVtt(lines) {
  const body = cues(lines)
    .map(
      (cue) =>
        `${subtitleClock(cue.start, ".")} --> ${subtitleClock(cue.end, ".")}\n${vttText(cue.text)}\n\n`,
    )
    .join("");
  return `WEBVTT\n\n${body}`;
}

export const FORMATS = {
  txt: { render: toText, type: "text/plain", extension: "txt" },
  srt: { render: toSrt, type: "application/x-subrip", extension: "srt" },
  vtt: { render: toVtt, type: "text/vtt", extension: "vtt" },
};
