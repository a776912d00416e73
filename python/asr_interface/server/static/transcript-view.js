// Draws a Transcript into an <ol>: one item per line with its time, committed text in
// normal type and the partial in grey after it. Only changed lines are redrawn.

import { shortClock } from "./transcript.js";

export class TranscriptView {
  constructor(list, scroller) {
    this.list = list;
    this.scroller = scroller;
    this.items = [];
    // The partial's own line, when it does not continue the last committed line; it stays
    // the list's last child so that new lines go in before it.
    this.pending = this.createItem();
    this.pending.classList.add("pending");
    this.list.append(this.pending);
  }

  createItem() {
    const item = document.createElement("li");
    const time = document.createElement("time");
    const text = document.createElement("span");
    const committed = document.createElement("span");
    const partial = document.createElement("span");
    text.className = "text";
    committed.className = "committed";
    partial.className = "partial";
    text.append(committed, partial);
    item.append(time, text);
    return item;
  }

  render(transcript) {
    const atBottom =
      this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight < 40;
    const { lines } = transcript;
    while (this.items.length > lines.length) this.items.pop().remove();
    for (let i = transcript.changedFrom; i < lines.length; i += 1) {
      let item = this.items[i];
      if (!item) {
        item = this.createItem();
        this.items.push(item);
        this.list.insertBefore(item, this.pending);
      }
      const line = lines[i];
      setTime(item, line.start, line.end);
      item.querySelector(".committed").textContent = line.text.trimStart();
    }
    transcript.changedFrom = lines.length;
    this.renderPartial(transcript);
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  renderPartial(transcript) {
    for (const span of this.list.querySelectorAll(".partial")) span.textContent = "";
    const { partial } = transcript;
    const continues = transcript.partialContinuesLine;
    this.pending.hidden = !partial.text || continues;
    if (!partial.text) return;
    if (continues) {
      this.items.at(-1).querySelector(".partial").textContent = partial.text;
    } else {
      setTime(this.pending, partial.start ?? 0, partial.end ?? 0);
      this.pending.querySelector(".partial").textContent = partial.text.trimStart();
    }
  }
}

function setTime(item, start, end) {
  const time = item.querySelector("time");
  time.textContent = shortClock(start);
  time.dateTime = `PT${start.toFixed(1)}S`;
  time.title = `${start.toFixed(1)} s to ${end.toFixed(1)} s`;
}
